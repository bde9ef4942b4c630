#include "flopcast/core/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/human_units.hpp"

namespace flopcast {
namespace fs = std::filesystem;

namespace {

struct LineColumn {
  std::size_t line = 1;
  std::size_t column = 1;
};

LineColumn line_column(std::string_view text, std::size_t offset) {
  LineColumn at;
  for (std::size_t i = 0; i < std::min(offset, text.size()); ++i) {
    if (text[i] == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
  }
  return at;
}

// The offset of the first byte that is NUL or not part of well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF), or npos when the text is clean.
std::size_t first_non_text_byte(std::string_view text) {
  const auto byte = [&](std::size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0u; };
  const auto continuation = [&](std::size_t i) { return (byte(i) & 0xC0u) == 0x80u; };
  for (std::size_t i = 0; i < text.size();) {
    const unsigned lead = byte(i);
    std::size_t length = 0;
    unsigned low = 0x80;  // the range of the second byte, narrower after some leads
    unsigned high = 0xBF;
    if (lead == 0) return i;
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
    } else {
      return i;
    }
    if (length > 1 && (byte(i + 1) < low || byte(i + 1) > high)) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if (!continuation(i + k)) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

std::string too_large(std::size_t limit) {
  return fmt::format("is larger than {}, the most a JSON input may be (a scenario is a few kB); is it the right file?",
                     human::bytes(static_cast<double>(limit)));
}

// Writes everything, retrying short writes and interrupts; false with errno set on failure.
bool write_fully(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = EIO;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Why open() failed, in words: a dangling link or a loop of links is not "no such file".
std::string cannot_open(const fs::path& path, int failure) {
  struct stat link {};
  if (failure == ENOENT && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
    std::error_code error;
    const auto target = fs::read_symlink(path, error);
    return fmt::format("is a symbolic link to {}, which does not exist", error ? "a missing file" : target.string());
  }
  switch (failure) {
    case ENOENT: return "no such file";
    case ELOOP: return "has a loop of symbolic links in its path";
    case ENAMETOOLONG: return "has a name longer than the system allows";
    default: return fmt::format("cannot be read: {}", std::strerror(failure));
  }
}

std::string file_type_name(mode_t type) {
  switch (type) {
    case S_IFIFO: return "a FIFO (named pipe)";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    default: return "not a regular file";
  }
}

// The files this process has read, by device and inode, once guard_inputs_against_outputs() is on: an output must
// not replace one of them (`flopcast run --trace s.json s.json`).
struct InputRegistry {
  std::mutex mutex;
  bool on = false;
  std::map<std::pair<dev_t, ino_t>, fs::path> files;  // the name each was first read by
};

InputRegistry& inputs() {
  static InputRegistry registry;
  return registry;
}

void remember_input(const struct stat& status, const fs::path& path) {
  auto& registry = inputs();
  const std::lock_guard lock(registry.mutex);
  if (!registry.on) return;
  registry.files.try_emplace({status.st_dev, status.st_ino}, path);
}

// IoError when `path` is a file this process read as an input.
void refuse_input_overwrite(const fs::path& path) {
  auto& registry = inputs();
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return;  // a new file is no input
  const std::lock_guard lock(registry.mutex);
  const auto found = registry.files.find({status.st_dev, status.st_ino});
  if (!registry.on || found == registry.files.end()) return;
  throw IoError(fmt::format("{}: is an input of this command (read as {}); write the output to another file",
                            path.string(), found->second.string()));
}

// A parser callback that refuses an object with the same key twice (nlohmann keeps the last one, so a scenario with
// two "model" keys would run the second model in silence) and nesting past kMaxJsonDepth (copying or printing such a
// document recurses once per level: 100,000 levels overflow the stack), naming the JSON path.
class InputChecks {
 public:
  explicit InputChecks(std::string file) : file_(std::move(file)) {}

  bool operator()(int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        count_element();
        if (frames_->size() >= kMaxJsonDepth) {
          throw InputError(file_, path(), fmt::format("nests deeper than {} levels; no flopcast input needs more than "
                                                      "a few",
                                                      kMaxJsonDepth));
        }
        frames_->push_back({event == Event::object_start, {}, {}, 0});
        break;
      case Event::object_end:
      case Event::array_end: frames_->pop_back(); break;
      case Event::key: {
        auto& object = frames_->back();
        object.key = parsed.get<std::string>();
        if (!object.keys.insert(object.key).second) {
          throw InputError(file_, path(), "appears twice in its object; JSON keys must be unique (the last one would "
                                          "win in silence)");
        }
        break;
      }
      case Event::value: count_element(); break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object = false;
    std::set<std::string> keys;
    std::string key;    // in an object: the key being read
    std::size_t elements = 0;  // in an array: elements begun so far
  };

  void count_element() {
    if (!frames_->empty() && !frames_->back().object) ++frames_->back().elements;
  }

  std::string path() const {
    std::string out;
    for (const auto& frame : *frames_) {
      out.push_back('/');
      if (!frame.object) {
        out.append(std::to_string(frame.elements - 1));
        continue;
      }
      for (char c : frame.key) {
        if (c == '~') {
          out.append("~0");
        } else if (c == '/') {
          out.append("~1");
        } else {
          out.push_back(c);
        }
      }
    }
    return out;
  }

  std::string file_;
  // Shared: nlohmann copies the callback.
  std::shared_ptr<std::vector<Frame>> frames_ = std::make_shared<std::vector<Frame>>();
};

// A new output gets the permissions a newly created file would (0666 less the umask); a replaced one keeps its own.
mode_t output_mode(const fs::path& path) {
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) return existing.st_mode & 07777;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

std::string read_text_file(const fs::path& path, std::size_t max_bytes) {
  const std::string label = path.string();
  // Non-blocking, so that opening a FIFO returns at once and is refused below rather than waiting for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw InputError(label, "", cannot_open(path, errno));
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    const mode_t type = status.st_mode & S_IFMT;
    ::close(fd);
    if (type == S_IFDIR) throw InputError(label, "", "is a directory, expected a file");
    throw InputError(label, "", fmt::format("is {}, expected a regular file", file_type_name(type)));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (static_cast<std::size_t>(status.st_size) > max_bytes) {
    ::close(fd);
    throw InputError(label, "", too_large(max_bytes));
  }
  remember_input(status, path);
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int failure = errno;
      ::close(fd);
      throw InputError(label, "", fmt::format("read failed: {}", std::strerror(failure)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      throw InputError(label, "", too_large(max_bytes));
    }
  }
  ::close(fd);
  return text;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& file_label) {
  if (const auto bad = first_non_text_byte(text); bad != std::string::npos) {
    const auto at = line_column(text, bad);
    throw InputError(file_label, "",
                     fmt::format("is not UTF-8 text: byte 0x{:02X} at line {}, column {} ({}); save it as UTF-8 JSON",
                                 static_cast<unsigned char>(text[bad]), at.line, at.column,
                                 text[bad] == '\0' ? "a NUL byte: a binary file?" : "not valid UTF-8"));
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw InputError(file_label, "", "is empty, expected a JSON object");
  }
  try {
    return nlohmann::json::parse(text, InputChecks(file_label));
  } catch (const nlohmann::json::parse_error& error) {
    const auto at = line_column(text, error.byte == 0 ? 0 : error.byte - 1);
    std::string reason = error.what();
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ...".
    if (const auto colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    const std::size_t at_byte = error.byte == 0 ? 0 : error.byte - 1;
    const std::string_view rest = std::string_view(text).substr(std::min(at_byte, text.size()));
    if (reason.find("invalid literal") != std::string::npos &&
        (rest.starts_with("NaN") || rest.starts_with("Infinity") || rest.starts_with("-Infinity"))) {
      reason += " (JSON has no NaN or Infinity: give a finite number)";
    }
    throw InputError(file_label, "", fmt::format("invalid JSON at line {}, column {}: {}", at.line, at.column, reason));
  } catch (const nlohmann::json::out_of_range& error) {
    // "[json.exception.out_of_range.406] number overflow parsing '1e999'": the only range error of parsing.
    const std::string reason = error.what();
    const auto open = reason.find('\'');
    const auto close = reason.rfind('\'');
    const std::string number = open != std::string::npos && close > open ? reason.substr(open + 1, close - open - 1) : "";
    const auto at = line_column(text, number.empty() ? 0 : text.find(number));
    throw InputError(file_label, "", fmt::format("invalid JSON at line {}, column {}: the number {} is beyond the range "
                                                 "of a double (every number must be finite)",
                                                 at.line, at.column, number));
  }
}

nlohmann::json read_json_file(const fs::path& path) {
  return parse_json_text(read_text_file(path, kMaxJsonInputBytes), path.string());
}

StagedFiles::~StagedFiles() {
  for (const auto& file : staged_) ::unlink(file.temporary.c_str());
}

void refuse_overwriting_an_input(const fs::path& path) { refuse_input_overwrite(path); }

void release_input(const fs::path& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return;
  auto& registry = inputs();
  const std::lock_guard lock(registry.mutex);
  registry.files.erase(std::pair{status.st_dev, status.st_ino});
}

void guard_inputs_against_outputs() {
  auto& registry = inputs();
  const std::lock_guard lock(registry.mutex);
  registry.on = true;
}

void StagedFiles::add(const fs::path& path, const std::string& content) {
  refuse_input_overwrite(path);
  const fs::path directory = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string temporary = (directory / fmt::format(".{}.XXXXXX", path.filename().string())).string();
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) throw IoError(fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno)));
  staged_.push_back({path, temporary});  // from here on the destructor removes it unless committed
  int failure = 0;
  if (::fchmod(fd, output_mode(path)) != 0 || !write_fully(fd, content) || ::fsync(fd) != 0) failure = errno;
  if (::close(fd) != 0 && failure == 0) failure = errno;
  if (failure != 0) {
    throw IoError(fmt::format("{}: write failed: {}; the previous file, if any, is unchanged", path.string(),
                              std::strerror(failure)));
  }
}

void StagedFiles::commit() {
  std::vector<fs::path> directories;
  for (std::size_t k = 0; k < staged_.size(); ++k) {
    const auto& file = staged_[k];
    if (::rename(file.temporary.c_str(), file.path.c_str()) != 0) {
      const int failure = errno;
      staged_.erase(staged_.begin(), staged_.begin() + static_cast<std::ptrdiff_t>(k));  // those are in place
      throw IoError(fmt::format("{}: cannot replace: {}", file.path.string(), std::strerror(failure)));
    }
    const fs::path directory = file.path.has_parent_path() ? file.path.parent_path() : fs::path(".");
    if (std::find(directories.begin(), directories.end(), directory) == directories.end()) directories.push_back(directory);
  }
  staged_.clear();
  // The renames themselves survive a power cut once their folders are synced (best effort: not every file system
  // lets a folder be opened for this).
  for (const auto& directory : directories) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) continue;
    ::fsync(fd);
    ::close(fd);
  }
}

AppendFile::AppendFile(const fs::path& path) : path_(path) {
  refuse_input_overwrite(path);
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) throw IoError(fmt::format("{}: cannot append: {}", path_.string(), std::strerror(errno)));
}

AppendFile::~AppendFile() { ::close(fd_); }

void AppendFile::append(std::string_view text) {
  if (!write_fully(fd_, text)) {
    throw IoError(fmt::format("{}: write failed: {}", path_.string(), std::strerror(errno)));
  }
}

void rename_over(const fs::path& from, const fs::path& to) {
  refuse_input_overwrite(to);
  if (::rename(from.c_str(), to.c_str()) != 0) {
    throw IoError(fmt::format("{}: cannot replace with {}: {}", to.string(), from.string(), std::strerror(errno)));
  }
  const fs::path directory = to.has_parent_path() ? to.parent_path() : fs::path(".");
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

OutputLock::OutputLock(const fs::path& name) {
  const fs::path directory = name.has_parent_path() ? name.parent_path() : fs::path(".");
  const fs::path lock = directory / fmt::format(".{}.lock", name.filename().string());
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) throw IoError(fmt::format("{}: cannot create the lock file: {}", lock.string(), std::strerror(errno)));
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    const int failure = errno;
    ::close(fd_);
    fd_ = -1;
    if (failure == EWOULDBLOCK) {
      throw IoError(fmt::format("{}: another flopcast is writing these outputs (it holds {}); wait for it to finish or "
                                "choose another --out",
                                name.string(), lock.string()));
    }
    throw IoError(fmt::format("{}: cannot lock: {}", lock.string(), std::strerror(failure)));
  }
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

void write_file_atomic(const fs::path& path, const std::string& content) {
  StagedFiles file;
  file.add(path, content);
  file.commit();
}

void create_output_folder(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw IoError(fmt::format("{}: cannot create the output folder: {}", folder.string(), error.message()));
}

void check_output_folder(const fs::path& folder) {
  create_output_folder(folder);
  std::string probe = (folder / ".flopcast-write-test.XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) throw IoError(fmt::format("{}: cannot write: {}", folder.string(), std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
}

std::vector<fs::path> json_files_in(const fs::path& dir, const std::string& what) {
  std::error_code error;
  if (!fs::exists(dir, error)) throw InputError(dir.string(), "", fmt::format("no such folder (expected a folder of {})", what));
  if (!fs::is_directory(dir, error)) throw InputError(dir.string(), "", fmt::format("is a file, expected a folder of {}", what));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void write_all_to_fd(int fd, const std::string& data) { (void)write_fully(fd, data); }

}  // namespace flopcast
