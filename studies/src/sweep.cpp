#include "flopcast/studies/sweep.hpp"

#include <cmath>
#include <functional>
#include <limits>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/scenarios/uncertainty.hpp"
#include "flopcast/studies/validation.hpp"

namespace flopcast {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxPoints = 10'000'000;

// The result columns of a row, in order: name and how to read it from an estimate.
struct Column {
  const char* name;
  std::function<double(const TrainingEstimate&, const PredictionIntervals&)> value;
};

const std::vector<Column>& columns() {
  static const std::vector<Column> kColumns{
      {"step_time_s", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.step_time_s; }},
      {"step_time_s_p10", [](const TrainingEstimate&, const PredictionIntervals& p) { return p.step_time_s.p10; }},
      {"step_time_s_p90", [](const TrainingEstimate&, const PredictionIntervals& p) { return p.step_time_s.p90; }},
      {"tokens_per_s_per_chip", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.tokens_per_s_per_chip; }},
      {"mfu", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.mfu; }},
      {"memory_per_chip_bytes", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.memory.total_bytes; }},
      {"train_days", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.train_days; }},
      {"train_days_p10", [](const TrainingEstimate&, const PredictionIntervals& p) { return p.train_days.p10; }},
      {"train_days_p90", [](const TrainingEstimate&, const PredictionIntervals& p) { return p.train_days.p90; }},
      {"chip_hours", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.chip_hours; }},
      {"energy_kwh", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.energy_cost.energy_kwh; }},
      {"cost_usd", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.energy_cost.cost_usd; }},
      {"cost_usd_p10", [](const TrainingEstimate&, const PredictionIntervals& p) { return p.cost_usd.p10; }},
      {"cost_usd_p90", [](const TrainingEstimate&, const PredictionIntervals& p) { return p.cost_usd.p90; }},
      {"usd_per_mtok", [](const TrainingEstimate& e, const PredictionIntervals&) { return e.energy_cost.usd_per_mtok; }},
  };
  return kColumns;
}

// The values of a range: {"from", "to", "step"} (inclusive, arithmetic) or {"from", "to", "count", "scale"}.
std::vector<nlohmann::json> range_values(JsonReader& r) {
  const auto from = r.number("from", Need::required);
  const auto to = r.number("to", Need::required);
  const auto step = r.number("step", Need::optional, {.min = 0, .min_exclusive = true});
  const auto count = r.integer("count", Need::optional, {.min = 1, .max = 1'000'000});
  const std::vector<std::string> scales{"linear", "log"};
  const auto scale = r.choice("scale", Need::optional, scales).value_or("linear");
  r.finish();
  std::vector<nlohmann::json> out;
  if (!from || !to) return out;
  if (step.has_value() == count.has_value()) {
    r.problem_here("expected exactly one of \"step\" or \"count\"");
    return out;
  }
  if (*to < *from) {
    r.problem("to", fmt::format("expected at least \"from\" ({:g}), got {:g}", *from, *to));
    return out;
  }
  const bool integers = std::floor(*from) == *from && std::floor(*to) == *to &&
                        (!step || std::floor(*step) == *step) && scale == "linear";
  const auto push = [&](double v) { integers ? out.emplace_back(std::llround(v)) : out.emplace_back(v); };
  if (step) {
    const double n = std::floor((*to - *from) / *step + 1e-9);
    if (n + 1 > 1'000'000) {
      r.problem("step", fmt::format("gives {:g} values; at most 1,000,000 per axis", n + 1));
      return out;
    }
    for (double i = 0; i <= n; ++i) push(*from + i * *step);
  } else if (scale == "log") {
    if (*from <= 0) {
      r.problem("from", "a log range needs from > 0");
      return out;
    }
    for (std::int64_t i = 0; i < *count; ++i) {
      push(*count == 1 ? *from : *from * std::pow(*to / *from, static_cast<double>(i) / static_cast<double>(*count - 1)));
    }
  } else {
    for (std::int64_t i = 0; i < *count; ++i) {
      push(*count == 1 ? *from : *from + (*to - *from) * static_cast<double>(i) / static_cast<double>(*count - 1));
    }
  }
  return out;
}

// The base with `value` at `path` (whose parent must exist as an object or an array).
bool set_at(nlohmann::json& j, const nlohmann::json::json_pointer& path, const nlohmann::json& value) {
  const auto parent = path.parent_pointer();
  if (!j.contains(parent)) return false;
  auto& holder = j[parent];
  if (holder.is_object()) {
    holder[path.back()] = value;
    return true;
  }
  if (holder.is_array() && j.contains(path)) {
    j[path] = value;
    return true;
  }
  return false;
}

}  // namespace

std::size_t Sweep::size() const {
  if (axes.empty()) return 1;
  if (zip) return axes.front().values.size();
  // Saturates rather than wraps, so an absurd grid is refused by the size check instead of looking small.
  std::size_t n = 1;
  for (const auto& axis : axes) {
    if (axis.values.empty()) return 0;
    if (n > std::numeric_limits<std::size_t>::max() / axis.values.size()) return std::numeric_limits<std::size_t>::max();
    n *= axis.values.size();
  }
  return n;
}

std::vector<nlohmann::json> Sweep::values_of(std::size_t index) const {
  std::vector<nlohmann::json> out(axes.size());
  // Grid: the last axis varies fastest.
  for (std::size_t a = axes.size(); a-- > 0;) {
    const auto& values = axes[a].values;
    out[a] = values[zip ? index : index % values.size()];
    if (!zip) index /= values.size();
  }
  return out;
}

nlohmann::json Sweep::point_json(std::size_t index) const {
  nlohmann::json j = base;
  const auto values = values_of(index);
  for (std::size_t a = 0; a < axes.size(); ++a) set_at(j, nlohmann::json::json_pointer(axes[a].path), values[a]);
  scale_data_parallel(j);
  return j;
}

void Sweep::scale_data_parallel(nlohmann::json& point) const {
  // A sweep of the cluster size keeps the plan's model-parallel layout and scales data parallelism with it, as a
  // user sizing a cluster means: dp = chips / (tp x pp x cp), where that divides (else the point's own check says
  // why not). A sweep that sets dp itself is left alone.
  const auto swept = [this](std::string_view path) {
    return std::any_of(axes.begin(), axes.end(), [path](const SweepAxis& a) { return a.path == path; });
  };
  if (!swept("/cluster/chips") || swept("/parallelism/dp")) return;
  const nlohmann::json::json_pointer chips_ptr("/cluster/chips");
  if (!point.contains(chips_ptr) || !point.at(chips_ptr).is_number_integer() || !point.contains("parallelism") ||
      !point["parallelism"].is_object() || !point["parallelism"].contains("dp")) {
    return;
  }
  const auto& p = point["parallelism"];
  const auto factor = [&p](const char* key) {
    const auto found = p.find(key);
    return found != p.end() && found->is_number_integer() ? found->get<long>() : 1L;
  };
  const long model_parallel = factor("tp") * factor("pp") * factor("cp");
  const long chips = point.at(chips_ptr).get<long>();
  if (model_parallel > 0 && chips % model_parallel == 0) point["parallelism"]["dp"] = chips / model_parallel;
}

std::string Sweep::fingerprint() const {
  nlohmann::json spec = {{"base", base}, {"zip", zip}, {"tier", std::string(to_string(tier))}};
  for (const auto& axis : axes) spec["axes"].push_back({{"path", axis.path}, {"values", axis.values}});
  return fmt::format("{:016x}", std::hash<std::string>{}(spec.dump()));
}

Sweep load_sweep(const fs::path& file, const Catalogs& catalogs, const SweepCheckProgress& progress) {
  return parse_sweep(read_json_file(file), file.string(), file.parent_path(), catalogs, progress);
}

Sweep parse_sweep(const nlohmann::json& json, const std::string& file_label, const fs::path& base_dir,
                  const Catalogs& catalogs, const SweepCheckProgress& progress) {
  std::vector<Problem> problems;
  JsonReader top(json, file_label, "", problems);
  Sweep sweep;
  sweep.file = file_label;
  sweep.base_dir = base_dir;
  if (const auto* base = top.raw("base", Need::required)) {
    if (base->is_string()) {
      const fs::path base_file = base_dir / base->get<std::string>();
      try {
        sweep.base = read_json_file(base_file);
        sweep.base_dir = base_file.parent_path();
      } catch (const InputError& error) {
        append_referenced(problems, error.problems(), file_label, "/base");
      }
    } else if (base->is_object()) {
      sweep.base = *base;
    } else {
      top.problem("base", fmt::format("expected a scenario file name or a scenario object, got {}", describe_json(*base)));
    }
    if (sweep.base.is_object() && sweep.base.contains("serving")) {
      top.problem("base", "is a serving deployment (a \"serving\" section); a sweep runs training scenarios (flopcast "
                          "serve --search searches deployments)");
      sweep.base = nlohmann::json();  // nothing to check the axes against
    }
  }
  const std::vector<std::string> modes{"grid", "zip"};
  sweep.zip = top.choice("mode", Need::optional, modes).value_or("grid") == "zip";
  const std::vector<std::string> tiers{"analytical", "replica", "full"};
  if (const auto tier = top.choice("tier", Need::optional, tiers)) sweep.tier = parse_tier(*tier).value_or(Tier::analytical);
  if (auto axes = top.objects("axes", Need::required)) {
    if (axes->empty()) top.problem("axes", "expected at least one axis");
    for (auto& a : *axes) {
      SweepAxis axis;
      axis.path = a.string("path", Need::required).value_or("");
      const auto* values = a.raw("values", Need::optional);
      auto range = a.object("range", Need::optional);
      if ((values != nullptr) == range.has_value()) a.problem_here("expected exactly one of \"values\" or \"range\"");
      if (values != nullptr) {
        if (!values->is_array()) {
          a.problem("values", fmt::format("expected an array, got {}", describe_json(*values)));
        } else if (values->empty()) {
          a.problem("values", "expected at least one value");
        } else {
          axis.values = values->get<std::vector<nlohmann::json>>();
        }
      }
      if (range) axis.values = range_values(*range);
      a.finish();
      // The path must name a place in the base: the field itself, or a new key of an object that exists.
      bool path_ok = false;
      if (axis.path.empty()) {
        a.problem("path", "is empty; expected a JSON pointer into the base scenario (for example \"/cluster/chips\")");
      } else if (!sweep.base.is_null()) {
        try {
          const nlohmann::json::json_pointer pointer(axis.path);
          nlohmann::json probe = sweep.base;
          path_ok = !pointer.empty() && set_at(probe, pointer, nullptr);
          if (!path_ok) {
            a.problem("path", fmt::format("\"{}\" is not a field of the base scenario (nor a key of an object in it)",
                                          axis.path));
          }
        } catch (const nlohmann::json::exception&) {
          a.problem("path", fmt::format("\"{}\" is not a JSON pointer (for example \"/cluster/chips\")", axis.path));
        }
      }
      if (!path_ok) axis.values.clear();  // nothing to check its values against
      sweep.axes.push_back(std::move(axis));
    }
  }
  top.finish();
  if (sweep.zip) {
    for (std::size_t a = 1; a < sweep.axes.size(); ++a) {
      if (sweep.axes[a].values.size() != sweep.axes[0].values.size()) {
        problems.push_back({sweep.file, fmt::format("/axes/{}", a),
                            fmt::format("zip mode needs axes of one length: {} values here, {} on axis 0",
                                        sweep.axes[a].values.size(), sweep.axes[0].values.size())});
      }
    }
  }
  if (sweep.size() > kMaxPoints) {
    throw InputError(sweep.file, "/axes", fmt::format("{} points; at most {} per sweep", sweep.size(), kMaxPoints));
  }
  // Each value on its own, in the base: a problem at or below its axis's path is the value's (a wrong type, an
  // unknown id, out of bounds); problems elsewhere belong to combinations and are left to the rows.
  std::size_t to_check = 0, checked = 0;
  for (const auto& axis : sweep.axes) to_check += axis.values.size();
  for (std::size_t a = 0; a < sweep.axes.size() && sweep.base.is_object(); ++a) {
    const auto& axis = sweep.axes[a];
    for (std::size_t v = 0; v < axis.values.size(); ++v) {
      if (progress) progress(checked++, to_check);
      nlohmann::json one = sweep.base;
      set_at(one, nlohmann::json::json_pointer(axis.path), axis.values[v]);
      try {
        (void)parse_scenario(one, sweep.file + " (base)", sweep.base_dir, catalogs);
      } catch (const InputError& error) {
        for (const auto& p : error.problems()) {
          if (p.path == axis.path || p.path.rfind(axis.path + "/", 0) == 0) {
            problems.push_back({sweep.file, fmt::format("/axes/{}/values/{}", a, v),
                                fmt::format("{} at {}: {}", axis.values[v].dump(), p.path, p.message)});
          }
        }
      }
    }
  }
  if (progress && sweep.base.is_object()) progress(checked, to_check);
  throw_if_any(problems);
  return sweep;
}

nlohmann::json evaluate_sweep_point(const Sweep& sweep, std::size_t index, const Catalogs& catalogs) {
  nlohmann::json row;
  row["index"] = index;
  const auto values = sweep.values_of(index);
  nlohmann::json point = nlohmann::json::object();
  for (std::size_t a = 0; a < sweep.axes.size(); ++a) point[sweep.axes[a].path] = values[a];
  row["point"] = point;
  const auto infeasible = [&](const std::string& reason) {
    row["status"] = "infeasible";
    row["reason"] = reason;
    return row;
  };
  Scenario scenario;
  try {
    scenario = parse_scenario(sweep.point_json(index), fmt::format("point {}", index), sweep.base_dir, catalogs);
  } catch (const InputError& error) {
    std::string reason;
    for (const auto& p : error.problems()) reason += (reason.empty() ? "" : "; ") + p.path + ": " + p.message;
    return infeasible(reason);
  }
  SimOptions options;
  options.tier = sweep.tier;
  SimResult result;
  try {
    result = simulate_scenario(scenario, catalogs, options);
  } catch (const ModelError& error) {
    return infeasible(error.what());
  }
  const auto& e = result.estimate;
  const auto intervals = prediction_intervals(scenario, e, result.tier, catalogs, whole_run_of(result));
  row["status"] = e.memory.fits ? "ok" : "infeasible";
  row["reason"] = e.memory.fits ? ""
                                : fmt::format("does not fit in memory: {:.1f} GiB per chip of {:.1f} GiB usable",
                                              e.memory.total_bytes / kBytesPerGiB, e.memory.usable_bytes / kBytesPerGiB);
  for (const auto& c : columns()) row[c.name] = c.value(e, intervals);
  return row;
}

std::string sweep_csv_header(const Sweep& sweep) {
  std::string out = "index";
  for (const auto& axis : sweep.axes) {
    out += ',';
    out += csv_field(axis.path);
  }
  out += ",status,reason";
  for (const auto& c : columns()) out += fmt::format(",{}", c.name);
  return out + "\n";
}

std::string sweep_csv_row(const Sweep& sweep, const nlohmann::json& row) {
  std::string out = fmt::format("{}", row.at("index").get<std::size_t>());
  for (const auto& axis : sweep.axes) {
    const auto& v = row.at("point").at(axis.path);
    out += ',';
    out += v.is_string() ? csv_field(v.get<std::string>()) : v.is_number() ? v.dump() : csv_field(v.dump());
  }
  out += fmt::format(",{},{}", row.at("status").get<std::string>(), csv_field(row.value("reason", "")));
  for (const auto& c : columns()) {
    out += row.contains(c.name) ? fmt::format(",{:.10g}", row[c.name].get<double>()) : std::string(",");
  }
  return out + "\n";
}

}  // namespace flopcast
