#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flopcast {

// Reads a whole text file. Throws InputError naming the file: missing, a directory, unreadable.
std::string read_text_file(const std::filesystem::path& path);

// Reads and parses a JSON file. Throws InputError with the line and column of a syntax error.
nlohmann::json read_json_file(const std::filesystem::path& path);

// Parses JSON text that came from `file_label` (for messages).
nlohmann::json parse_json_text(const std::string& text, const std::string& file_label);

// Writes `content` to a temporary file beside `path`, then renames it over `path`: a failure never leaves a
// half-written file in place of a good one. Throws IoError.
void write_file_atomic(const std::filesystem::path& path, const std::string& content);

// The .json files directly in `dir`, sorted by name; IoError naming `what` when `dir` is not a folder.
std::vector<std::filesystem::path> json_files_in(const std::filesystem::path& dir, const std::string& what);

// Writes all of `data` to a pipe or file descriptor, retrying short writes; stops quietly when the reader is gone.
void write_all_to_fd(int fd, const std::string& data);

// Creates `folder` and its parents when missing (an output folder named on the command line). Throws IoError.
void create_output_folder(const std::filesystem::path& folder);

}  // namespace flopcast
