#pragma once
// Error policy (see README "Errors"): typed exceptions for conditions a user can cause, caught at the CLI/GUI
// boundary; asserts only for invariants no input can reach. Library code never exits the process.

#include <stdexcept>
#include <string>
#include <vector>

namespace flopcast {

// One problem in one input: which file, where in it (a JSON pointer, "" for the whole file), and what was expected.
struct Problem {
  std::string file;
  std::string path;
  std::string message;
};

std::string to_string(const Problem& problem);  // "file: /a/b: message"

// The problems of a file that another one names (a sweep's base, a fleet's or a claim's scenario), appended to `out`
// with the referring place: "base.json: /cluster/chips: ... (named at sweep.json: /base)".
void append_referenced(std::vector<Problem>& out, const std::vector<Problem>& found, const std::string& file,
                       const std::string& path);

// Bad input: a file that cannot be read, invalid JSON, a value of the wrong type or out of bounds, an unknown id.
// Holds every problem found, not only the first.
class InputError : public std::runtime_error {
 public:
  explicit InputError(std::vector<Problem> problems);
  InputError(std::string file, std::string path, std::string message);
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

// A valid input that the models cannot evaluate (for example a plan whose products do not divide the model).
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Work stopped because the caller asked (a cancel token was set): not an error of the input or the model.
class Cancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file that cannot be written.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace flopcast
