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
// Scenarios nest about 5 levels deep; a document past this is refused when it is parsed.
inline constexpr std::size_t kMaxJsonDepth = 64;

// Reads a whole regular file of at most `max_bytes`. Throws InputError naming the file: missing, a dangling link, a
// loop of links, a directory, a FIFO, a device or a socket (refused by type, so a FIFO never blocks and /dev/zero is
// never read), unreadable, too large.
std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes = std::size_t{1} << 30);

// From now on this process remembers the files it reads, and StagedFiles, write_file_atomic and AppendFile refuse
// (IoError) to write over one of them. The command line turns it on; the desktop app saves over the file it opened.
void guard_inputs_against_outputs();
// IoError when `path` is a file this process read (with the guard on); commands call it for the outputs they name
// before they start work, and every writer above calls it again.
void refuse_overwriting_an_input(const std::filesystem::path& path);
// Lets this process write over `path` although it read it: for the one output that replaces its own input by design
// (flopcast calibrate rewrites the calibration the catalogs were loaded with).
void release_input(const std::filesystem::path& path);

// Reads and parses a JSON file of at most kMaxJsonInputBytes. Throws InputError with the line and column of a
// syntax error.
nlohmann::json read_json_file(const std::filesystem::path& path);

// Parses JSON text that came from `file_label` (for messages). The text must be UTF-8 with no NUL byte, every
// number finite (nlohmann would otherwise turn 1e999 into a failure with no place in the file), no object may hold a
// key twice and nothing may nest deeper than kMaxJsonDepth; InputError with the JSON path otherwise.
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

// Renames `from` over `to` (a finished output over the one it replaces) and syncs the folder. Throws IoError.
void rename_over(const std::filesystem::path& from, const std::filesystem::path& to);

// An exclusive lock on outputs that take long to write (a sweep's): a hidden lock file `.NAME.lock` beside `name`,
// held with flock() while the object lives and released by the kernel if the process dies. A second writer gets
// IoError at once instead of mixing its rows into the first one's. The file stays (removing it would race with the
// next writer).
class OutputLock {
 public:
  explicit OutputLock(const std::filesystem::path& name);
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();

 private:
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

// Creates `folder` when missing and writes and removes a probe file in it: a command that computes for minutes
// before it writes (validate, calibrate) learns at once that its output folder is read-only. Throws IoError.
void check_output_folder(const std::filesystem::path& folder);

}  // namespace flopcast
