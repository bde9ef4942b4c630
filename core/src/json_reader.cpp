#include "flopcast/core/json_reader.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "flopcast/core/text.hpp"

namespace flopcast {
namespace {

// JSON pointer escaping (RFC 6901): "~" -> "~0", "/" -> "~1".
std::string escape_pointer_token(std::string_view key) {
  std::string escaped;
  for (char c : key) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string format_number(double value) { return fmt::format("{:g}", value); }

std::string describe_bounds(const NumberBounds& bounds) {
  const bool has_min = std::isfinite(bounds.min);
  const bool has_max = std::isfinite(bounds.max);
  if (has_min && has_max) {
    return fmt::format("a number {} {} and <= {}", bounds.min_exclusive ? ">" : ">=", format_number(bounds.min),
                       format_number(bounds.max));
  }
  if (has_min) return fmt::format("a number {} {}", bounds.min_exclusive ? ">" : ">=", format_number(bounds.min));
  if (has_max) return fmt::format("a number <= {}", format_number(bounds.max));
  return "a number";
}

std::string describe_bounds(const IntegerBounds& bounds) {
  const bool has_min = bounds.min != std::numeric_limits<std::int64_t>::min();
  const bool has_max = bounds.max != std::numeric_limits<std::int64_t>::max();
  if (has_min && has_max) return fmt::format("an integer from {} to {}", bounds.min, bounds.max);
  if (has_min) return fmt::format("an integer >= {}", bounds.min);
  if (has_max) return fmt::format("an integer <= {}", bounds.max);
  return "an integer";
}

bool within(double value, const NumberBounds& bounds) {
  if (bounds.min_exclusive ? !(value > bounds.min) : !(value >= bounds.min)) return false;
  return value <= bounds.max;
}

}  // namespace

std::string describe_json(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::string: {
      std::string text = value.get<std::string>();
      if (text.size() > 40) text = text.substr(0, 37) + "...";
      return fmt::format("the string \"{}\"", text);
    }
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return value.dump();
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

JsonReader::JsonReader(const nlohmann::json& node, std::string file, std::string path, std::vector<Problem>& problems)
    : node_(&node), file_(std::move(file)), path_(std::move(path)), problems_(&problems) {
  is_object_ = node.is_object();
  if (!is_object_) problem_here(fmt::format("expected an object, got {}", describe_json(node)));
}

std::string JsonReader::path_of(std::string_view key) const { return path_ + "/" + escape_pointer_token(key); }

void JsonReader::problem(std::string_view key, std::string message) {
  problems_->push_back({file_, path_of(key), std::move(message)});
}

void JsonReader::problem_at(std::string_view key, std::size_t index, std::string message) {
  problems_->push_back({file_, fmt::format("{}/{}", path_of(key), index), std::move(message)});
}

void JsonReader::problem_here(std::string message) { problems_->push_back({file_, path_, std::move(message)}); }

bool JsonReader::has(std::string_view key) const { return is_object_ && node_->contains(key); }

void JsonReader::allow(std::string_view key) { known_.emplace_back(key); }

std::vector<std::string> JsonReader::keys() const {
  std::vector<std::string> names;
  if (!is_object_) return names;
  for (const auto& item : node_->items()) names.push_back(item.key());
  return names;
}

const nlohmann::json* JsonReader::find(std::string_view key, Need need) {
  known_.emplace_back(key);
  if (!is_object_) return nullptr;
  const auto it = node_->find(key);
  if (it == node_->end()) {
    if (need == Need::required) problem(key, "is required but missing");
    return nullptr;
  }
  return &*it;
}

const nlohmann::json* JsonReader::raw(std::string_view key, Need need) { return find(key, need); }

std::optional<double> JsonReader::number(std::string_view key, Need need, NumberBounds bounds) {
  const auto* value = find(key, need);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number() || !std::isfinite(value->get<double>()) || !within(value->get<double>(), bounds)) {
    problem(key, fmt::format("expected {}, got {}", describe_bounds(bounds), describe_json(*value)));
    return std::nullopt;
  }
  return value->get<double>();
}

std::optional<std::int64_t> JsonReader::integer(std::string_view key, Need need, IntegerBounds bounds) {
  const auto* value = find(key, need);
  if (value == nullptr) return std::nullopt;
  std::optional<std::int64_t> result;
  if (value->is_number_integer()) {
    result = value->get<std::int64_t>();
  } else if (value->is_number_unsigned()) {
    if (value->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      result = static_cast<std::int64_t>(value->get<std::uint64_t>());
    }
  } else if (value->is_number_float()) {
    // Accept 2048.0 and 1e3, which are integers written as floats; reject 2.5 and 1e300.
    const double number = value->get<double>();
    if (std::isfinite(number) && number == std::floor(number) && std::fabs(number) < 9.0e15) {
      result = static_cast<std::int64_t>(number);
    }
  }
  if (!result || *result < bounds.min || *result > bounds.max) {
    problem(key, fmt::format("expected {}, got {}", describe_bounds(bounds), describe_json(*value)));
    return std::nullopt;
  }
  return result;
}

std::optional<std::string> JsonReader::string(std::string_view key, Need need) {
  const auto* value = find(key, need);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    problem(key, fmt::format("expected a string, got {}", describe_json(*value)));
    return std::nullopt;
  }
  auto text = value->get<std::string>();
  if (const auto at = first_control_character(text); at != std::string::npos) {
    problem(key, fmt::format("holds a control character (byte 0x{:02X} at offset {}); strings are printed on terminals "
                             "and into reports, where it would act",
                             static_cast<unsigned char>(text[at]), at));
    return std::nullopt;
  }
  return text;
}

std::optional<std::vector<std::string>> JsonReader::strings(std::string_view key, Need need) {
  const auto* value = find(key, need);
  if (value == nullptr) return std::nullopt;
  const bool ok = value->is_array() && std::all_of(value->begin(), value->end(), [](const auto& v) { return v.is_string(); });
  if (!ok) {
    problem(key, fmt::format("expected an array of strings, got {}", describe_json(*value)));
    return std::nullopt;
  }
  auto texts = value->get<std::vector<std::string>>();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (first_control_character(texts[i]) != std::string::npos) {
      problem_at(key, i, "holds a control character; strings are printed on terminals and into reports, where it "
                         "would act");
      return std::nullopt;
    }
  }
  return texts;
}

std::optional<std::string> JsonReader::choice(std::string_view key, Need need, std::span<const std::string> options) {
  auto text = string(key, need);
  if (!text) return std::nullopt;
  if (std::find(options.begin(), options.end(), *text) == options.end()) {
    problem(key, fmt::format("expected one of {}, got \"{}\"{}", join(options, " | "), *text,
                             did_you_mean(*text, options)));
    return std::nullopt;
  }
  return text;
}

std::optional<bool> JsonReader::boolean(std::string_view key, Need need) {
  const auto* value = find(key, need);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    problem(key, fmt::format("expected true or false, got {}", describe_json(*value)));
    return std::nullopt;
  }
  return value->get<bool>();
}

std::optional<JsonReader> JsonReader::object(std::string_view key, Need need) {
  const auto* value = find(key, need);
  if (value == nullptr) return std::nullopt;
  if (!value->is_object()) {
    problem(key, fmt::format("expected an object, got {}", describe_json(*value)));
    return std::nullopt;
  }
  return JsonReader(*value, file_, path_of(key), *problems_);
}

std::optional<std::vector<JsonReader>> JsonReader::objects(std::string_view key, Need need) {
  const auto* value = find(key, need);
  if (value == nullptr) return std::nullopt;
  if (!value->is_array()) {
    problem(key, fmt::format("expected an array of objects, got {}", describe_json(*value)));
    return std::nullopt;
  }
  std::vector<JsonReader> readers;
  for (std::size_t index = 0; index < value->size(); ++index) {
    readers.emplace_back((*value)[index], file_, fmt::format("{}/{}", path_of(key), index), *problems_);
  }
  return readers;
}

std::optional<Quantity> JsonReader::quantity(std::string_view key, Need need, Dimension dimension,
                                             NumberBounds bounds) {
  auto reader = object(key, need);
  if (!reader) return std::nullopt;
  const std::size_t problems_before = problems_->size();
  Quantity quantity;
  auto unit = reader->string("unit", Need::required);
  std::optional<UnitInfo> info;
  if (unit) {
    info = find_unit(*unit);
    if (!info || info->dimension != dimension) {
      const auto accepted = units_of(dimension);
      reader->problem("unit", fmt::format("expected a {} unit ({}), got \"{}\"{}", dimension_name(dimension),
                                          join(accepted, ", "), *unit, did_you_mean(*unit, accepted)));
      info.reset();
    }
  }
  auto value = reader->number("value", Need::required, bounds);
  auto low = reader->number("low", Need::optional, bounds);
  auto high = reader->number("high", Need::optional, bounds);
  auto source = reader->string("source", Need::optional);
  auto estimate = reader->string("estimate", Need::optional);
  auto note = reader->string("note", Need::optional);
  auto measured = reader->string("measured", Need::optional);
  if (measured && (!source || source->empty())) {
    reader->problem("measured", "a measured value needs a \"source\" saying how it was measured");
  }
  if ((!source || source->empty()) && (!estimate || estimate->empty())) {
    reader->problem_here("needs a \"source\" (where the number comes from) or an \"estimate\" (the reasoning)");
  }
  if (value && low && *low > *value) reader->problem("low", fmt::format("must be <= value {}", *value));
  if (value && high && *high < *value) reader->problem("high", fmt::format("must be >= value {}", *value));
  reader->finish();
  if (problems_->size() != problems_before || !value || !info) return std::nullopt;
  quantity.value = *value * info->to_internal;
  if (low) quantity.low = *low * info->to_internal;
  if (high) quantity.high = *high * info->to_internal;
  quantity.unit = *unit;
  quantity.source = source.value_or("");
  quantity.estimate = estimate.value_or("");
  quantity.note = note.value_or("");
  quantity.measured = measured.value_or("");
  return quantity;
}

void JsonReader::finish() {
  if (!is_object_) return;
  for (const auto& item : node_->items()) {
    if (std::find(known_.begin(), known_.end(), item.key()) != known_.end()) continue;
    problem(item.key(), fmt::format("unknown key{}", did_you_mean(item.key(), known_)));
  }
}

void read_recorded(JsonReader& section, std::string_view prefix, std::string_view key, Dimension dimension,
                   double& target, NumberBounds bounds, Provenance& provenance) {
  if (auto quantity = section.quantity(key, Need::required, dimension, bounds)) {
    target = quantity->value;
    provenance.emplace_back(fmt::format("{}.{}", prefix, key), *quantity);
  }
}

nlohmann::json quantity_to_json(const Quantity& quantity) {
  nlohmann::json j = {{"value", quantity.value}, {"unit_in_file", quantity.unit}};
  if (quantity.low) j["low"] = *quantity.low;
  if (quantity.high) j["high"] = *quantity.high;
  if (!quantity.source.empty()) j["source"] = quantity.source;
  if (quantity.is_estimate()) j["estimate"] = quantity.estimate;
  if (quantity.is_measured()) j["measured"] = quantity.measured;
  return j;
}

void throw_if_any(std::vector<Problem>& problems) {
  if (!problems.empty()) throw InputError(std::move(problems));
}

}  // namespace flopcast
