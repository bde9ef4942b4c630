#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace flopcast {

// JSON inputs (scenarios, sweeps, configs, the catalog) are a few kB; the largest shipped one is 50 kB. A file past
// this is a mistake (a trace or an archive named by accident) and is refused before it is read into memory.
inline constexpr std::size_t kMaxJsonInputBytes = std::size_t{4} << 20;

// Reads a whole file of at most `max_bytes`. Throws InputError naming the file: missing, a directory, unreadable,
// too large. Pipes and devices are read too (up to the limit), so `<(...)` works and /dev/zero does not hang.
std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes = std::size_t{1} << 30);

// Reads and parses a JSON file of at most kMaxJsonInputBytes. Throws InputError with the line and column of a
// syntax error.
nlohmann::json read_json_file(const std::filesystem::path& path);

// Parses JSON text that came from `file_label` (for messages). The text must be UTF-8 with no NUL byte, and every
// number finite: nlohmann would otherwise turn 1e999 into a failure with no place in the file.
nlohmann::json parse_json_text(const std::string& text, const std::string& file_label);

// Outputs that replace older ones. add() writes the content in full to a new temporary file beside its path and
// syncs it; commit() renames every temporary over its path. A failure before commit (a full disk, a read-only
// folder, a file-size limit) throws IoError and leaves every old file as it was; temporaries never committed are
// removed. Readers see the old file or the new one, never a mix.
class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles();

  void add(const std::filesystem::path& path, const std::string& content);
  void commit();

 private:
  struct Staged {
    std::filesystem::path path;
    std::filesystem::path temporary;
  };
  std::vector<Staged> staged_;
};

// An output that grows row by row (a sweep's results): each append goes to the file at once, and a failure (a full
// disk, a file-size limit) throws IoError naming the file and the reason; what was appended before it stays.
class AppendFile {
 public:
  explicit AppendFile(const std::filesystem::path& path);  // the file must exist; IoError otherwise
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  ~AppendFile();

  void append(std::string_view text);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// One file, as StagedFiles: the old file or the whole new one, never half of it. Throws IoError.
void write_file_atomic(const std::filesystem::path& path, const std::string& content);

// The .json files directly in `dir`, sorted by name; InputError naming `what` when `dir` is not a folder.
std::vector<std::filesystem::path> json_files_in(const std::filesystem::path& dir, const std::string& what);

// Writes all of `data` to a pipe or file descriptor, retrying short writes; stops quietly when the reader is gone.
void write_all_to_fd(int fd, const std::string& data);

// Creates `folder` and its parents when missing (an output folder named on the command line). Throws IoError.
void create_output_folder(const std::filesystem::path& folder);

}  // namespace flopcast
