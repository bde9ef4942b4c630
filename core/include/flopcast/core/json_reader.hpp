#pragma once
// A small path-tracking reader over one JSON object. Every getter records the key as known and reports a problem
// (file, JSON pointer, what was expected, what was found) instead of throwing, so a loader collects every problem
// of a file before failing. finish() reports the keys nobody asked for as unknown, with a "did you mean".
//
//   std::vector<Problem> problems;
//   JsonReader root(json, "h800.json", "", problems);
//   auto chips = root.integer("chips", Need::required, {.min = 1});
//   root.finish();
//   if (!problems.empty()) throw InputError(problems);

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/units.hpp"

namespace flopcast {

enum class Need { required, optional };

struct NumberBounds {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;  // true: value must be > min
};

struct IntegerBounds {
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
};

// "a string "abc"", "the number -1", "an array", ... for messages.
std::string describe_json(const nlohmann::json& value);

class JsonReader {
 public:
  // `node` must outlive the reader. `path` is the JSON pointer of `node` ("" for the root).
  JsonReader(const nlohmann::json& node, std::string file, std::string path, std::vector<Problem>& problems);

  bool is_object() const { return is_object_; }
  bool has(std::string_view key) const;

  std::optional<double> number(std::string_view key, Need need, NumberBounds bounds = {});
  std::optional<std::int64_t> integer(std::string_view key, Need need, IntegerBounds bounds = {});
  std::optional<std::string> string(std::string_view key, Need need);
  std::optional<std::string> choice(std::string_view key, Need need, std::span<const std::string> options);
  std::optional<bool> boolean(std::string_view key, Need need);
  std::optional<std::vector<std::string>> strings(std::string_view key, Need need);
  std::optional<JsonReader> object(std::string_view key, Need need);
  // An array of objects: one reader per element (paths key/0, key/1, ...).
  std::optional<std::vector<JsonReader>> objects(std::string_view key, Need need);
  // A catalog quantity object {value, unit, source | estimate, low, high, note} of the given dimension.
  std::optional<Quantity> quantity(std::string_view key, Need need, Dimension dimension, NumberBounds bounds = {});
  // The raw value, marked as known; nullptr when absent (a problem is recorded if required).
  const nlohmann::json* raw(std::string_view key, Need need);
  // Marks a key as known without reading it.
  void allow(std::string_view key);
  // The object's keys in file order (for maps keyed by name).
  std::vector<std::string> keys() const;

  // Reports every key that no getter asked for. Call once, after reading.
  void finish();

  void problem(std::string_view key, std::string message);
  // A problem with element `index` of the array `key` (path key/index).
  void problem_at(std::string_view key, std::size_t index, std::string message);
  void problem_here(std::string message);

  std::string path_of(std::string_view key) const;
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  const nlohmann::json& node() const { return *node_; }
  std::vector<Problem>& problems() { return *problems_; }

 private:
  const nlohmann::json* find(std::string_view key, Need need);

  const nlohmann::json* node_;
  std::string file_;
  std::string path_;
  std::vector<Problem>* problems_;
  std::vector<std::string> known_;
  bool is_object_ = false;
};

// Values read from a data file with where each came from, named "section.key", for a result's assumptions list.
using Provenance = std::vector<std::pair<std::string, Quantity>>;

// Reads the required quantity `key` of `section` into `target` and records it in `provenance` as "prefix.key".
void read_recorded(JsonReader& section, std::string_view prefix, std::string_view key, Dimension dimension,
                   double& target, NumberBounds bounds, Provenance& provenance);

// A quantity as JSON: value (internal unit), low/high when given, and its source or estimate.
nlohmann::json quantity_to_json(const Quantity& quantity);

// Throws InputError if `problems` is not empty.
void throw_if_any(std::vector<Problem>& problems);

}  // namespace flopcast
