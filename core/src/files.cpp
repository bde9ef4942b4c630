#include "flopcast/core/files.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"

namespace flopcast {
namespace fs = std::filesystem;

std::string read_text_file(const fs::path& path) {
  const std::string label = path.string();
  std::error_code error;
  if (!fs::exists(path, error)) throw InputError(label, "", "no such file");
  if (fs::is_directory(path, error)) throw InputError(label, "", "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(label, "", fmt::format("cannot be read: {}", std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InputError(label, "", "read failed");
  return buffer.str();
}

nlohmann::json parse_json_text(const std::string& text, const std::string& file_label) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw InputError(file_label, "", "is empty, expected a JSON object");
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    // Turn the byte offset into a line and column a person can find.
    const std::size_t offset = std::min<std::size_t>(error.byte == 0 ? 0 : error.byte - 1, text.size());
    std::size_t line = 1;
    std::size_t column = 1;
    for (std::size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string reason = error.what();
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ...".
    if (const auto colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    throw InputError(file_label, "", fmt::format("invalid JSON at line {}, column {}: {}", line, column, reason));
  }
}

nlohmann::json read_json_file(const fs::path& path) { return parse_json_text(read_text_file(path), path.string()); }

void write_file_atomic(const fs::path& path, const std::string& content) {
  const fs::path directory = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path temporary = directory / fmt::format(".{}.tmp", path.filename().string());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno)));
    out << content;
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
      throw IoError(fmt::format("{}: write failed (disk full?)", path.string()));
    }
  }
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw IoError(fmt::format("{}: cannot replace: {}", path.string(), error.message()));
  }
}

void create_output_folder(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw IoError(fmt::format("{}: cannot create the output folder: {}", folder.string(), error.message()));
}

std::vector<fs::path> json_files_in(const fs::path& dir, const std::string& what) {
  if (!fs::is_directory(dir)) throw IoError(fmt::format("{}: not a folder of {}", dir.string(), what));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void write_all_to_fd(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace flopcast
