#include "flopcast/scenarios/failure_settings.hpp"

#include <cmath>

#include <fmt/format.h>

namespace flopcast {

namespace {

constexpr NumberBounds kPositive{.min = 0, .max = 1e30, .min_exclusive = true};
constexpr NumberBounds kNonNegative{.min = 0, .max = 1e30};

// A number given in the section, or the data file's default (recorded in `defaults_used`).
class DefaultingReader {
 public:
  DefaultingReader(JsonReader& section, std::vector<std::string>& defaults_used)
      : section_(section), defaults_used_(defaults_used) {}

  double number(std::string_view key, double fallback, NumberBounds bounds, std::string_view why) {
    if (auto value = section_.number(key, Need::optional, bounds)) return *value;
    note(key, fmt::format("{:g}", fallback), why);
    return fallback;
  }

  std::int64_t integer(std::string_view key, std::int64_t fallback, IntegerBounds bounds, std::string_view why) {
    if (auto value = section_.integer(key, Need::optional, bounds)) return *value;
    note(key, fmt::format("{}", fallback), why);
    return fallback;
  }

  void note(std::string_view key, const std::string& value, std::string_view why) {
    if (section_.has(key)) return;  // given but invalid: the problem is reported, no default is claimed
    std::string dotted = section_.path().substr(1);
    for (char& c : dotted) c = c == '/' ? '.' : c;
    defaults_used_.push_back(fmt::format("{}.{} = {} ({})", dotted, key, value, why));
  }

 private:
  JsonReader& section_;
  std::vector<std::string>& defaults_used_;
};

constexpr std::string_view kDataFile = "models/data/failures.json";

// "checkpoint_interval_s": a number of seconds > 0, or "auto".
std::optional<double> read_interval(JsonReader& section) {
  const auto* raw = section.raw("checkpoint_interval_s", Need::optional);
  if (raw == nullptr || (raw->is_string() && raw->get<std::string>() == "auto")) return std::nullopt;
  if (raw->is_number() && raw->get<double>() > 0 && std::isfinite(raw->get<double>())) return raw->get<double>();
  section.problem("checkpoint_interval_s",
                  fmt::format("expected a number of seconds > 0 or \"auto\", got {}", describe_json(*raw)));
  return std::nullopt;
}

std::optional<StragglerModel> read_stragglers(JsonReader& section, const FailureData& data,
                                              std::vector<std::string>& defaults_used) {
  auto s = section.object("stragglers", Need::optional);
  if (!s) return std::nullopt;
  const bool enabled = s->boolean("enabled", Need::optional).value_or(true);
  DefaultingReader read(*s, defaults_used);
  const auto& d = data.stragglers;
  StragglerModel model;
  model.slow_fraction = read.number("slow_fraction", d.slow_fraction, {.min = 0, .max = 1}, kDataFile);
  model.slow_factor = read.number("slow_factor", d.slow_factor, {.min = 1, .max = 100}, kDataFile);
  model.jitter_sigma = read.number("jitter_sigma", d.jitter_sigma, {.min = 0, .max = 1}, kDataFile);
  s->finish();
  if (!enabled) return std::nullopt;
  return model;
}

}  // namespace

std::optional<FailureSettings> read_failure_settings(JsonReader& root, const FailureData& data, int nodes,
                                                     std::vector<std::string>& defaults_used) {
  auto section = root.object("failures", Need::optional);
  if (!section) return std::nullopt;
  const bool enabled = section->boolean("enabled", Need::optional).value_or(true);
  // Defaults are listed only for a section that takes effect.
  std::vector<std::string> defaults;
  DefaultingReader read(*section, defaults);
  FailureSettings s;
  s.checkpoint_interval_s = read_interval(*section);
  if (!section->has("checkpoint_interval_s")) {
    read.note("checkpoint_interval_s", "auto", "the best interval the simulation finds");
  }
  s.storage_bytes_per_s = read.number("storage_bytes_per_s", data.storage_bytes_per_s, kPositive, kDataFile);
  s.checkpoint_bytes_per_param =
      read.number("checkpoint_bytes_per_param", data.checkpoint_bytes_per_param, kPositive, kDataFile);
  s.restart_s = read.number("restart_s", data.restart_s, kNonNegative, kDataFile);
  s.repair_s = read.number("repair_s", data.repair_s, kNonNegative, kDataFile);
  const auto spares = static_cast<std::int64_t>(std::ceil(data.hot_spare_fraction * nodes));
  s.hot_spare_nodes = static_cast<int>(read.integer(
      "hot_spare_nodes", spares, {.min = 0, .max = 1 << 20},
      fmt::format("{:g} % of {} nodes, {}", 100.0 * data.hot_spare_fraction, nodes, kDataFile)));
  s.draws = static_cast<int>(read.integer("draws", data.draws, {.min = 1, .max = 1000000}, kDataFile));
  s.seed = static_cast<std::uint64_t>(read.integer("seed", 1, {.min = 0}, "fixed: the same scenario, the same runs"));
  s.failure_rate_factor = read.number("failure_rate_factor", 1.0, {.min = 0, .max = 1e6}, "the data file's rates");
  s.stragglers = read_stragglers(*section, data, defaults);
  if (!section->has("stragglers")) defaults.push_back("failures.stragglers: off");
  section->finish();
  if (!enabled) return std::nullopt;
  defaults_used.insert(defaults_used.end(), defaults.begin(), defaults.end());
  return s;
}

nlohmann::json failure_settings_to_json(const FailureSettings& s) {
  nlohmann::json j = {{"enabled", true},
                      {"storage_bytes_per_s", s.storage_bytes_per_s},
                      {"checkpoint_bytes_per_param", s.checkpoint_bytes_per_param},
                      {"restart_s", s.restart_s},
                      {"repair_s", s.repair_s},
                      {"hot_spare_nodes", s.hot_spare_nodes},
                      {"draws", s.draws},
                      {"seed", s.seed},
                      {"failure_rate_factor", s.failure_rate_factor}};
  if (s.checkpoint_interval_s) {
    j["checkpoint_interval_s"] = *s.checkpoint_interval_s;
  } else {
    j["checkpoint_interval_s"] = "auto";
  }
  if (s.stragglers) {
    j["stragglers"] = {{"enabled", true},
                       {"slow_fraction", s.stragglers->slow_fraction},
                       {"slow_factor", s.stragglers->slow_factor},
                       {"jitter_sigma", s.stragglers->jitter_sigma}};
  } else {
    j["stragglers"] = {{"enabled", false}};
  }
  return j;
}

}  // namespace flopcast
