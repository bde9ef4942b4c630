#include "flopcast/core/errors.hpp"

#include <fmt/format.h>

namespace flopcast {

std::string to_string(const Problem& problem) {
  if (problem.path.empty()) return fmt::format("{}: {}", problem.file, problem.message);
  return fmt::format("{}: {}: {}", problem.file, problem.path, problem.message);
}

void append_referenced(std::vector<Problem>& out, const std::vector<Problem>& found, const std::string& file,
                       const std::string& path) {
  for (auto p : found) {
    p.message += fmt::format(" (named at {}: {})", file, path);
    out.push_back(std::move(p));
  }
}

namespace {
std::string join(const std::vector<Problem>& problems) {
  std::string text;
  for (const auto& problem : problems) {
    if (!text.empty()) text += '\n';
    text += to_string(problem);
  }
  return text;
}
}  // namespace

InputError::InputError(std::vector<Problem> problems) : std::runtime_error(join(problems)), problems_(std::move(problems)) {}

InputError::InputError(std::string file, std::string path, std::string message)
    : InputError(std::vector<Problem>{{std::move(file), std::move(path), std::move(message)}}) {}

}  // namespace flopcast
