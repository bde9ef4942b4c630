#include "flopcast/models/failures.hpp"

#include <fmt/format.h>

#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"

namespace flopcast {
namespace fs = std::filesystem;

namespace {

constexpr NumberBounds kPositive{.min = 0, .min_exclusive = true};
constexpr NumberBounds kNonNegative{.min = 0};

class FailureReader {
 public:
  explicit FailureReader(FailureData& out) : out_(out) {}

  // Reads `key` of `section` into `target`, recording it as "failures.<prefix>.<key>".
  void read(JsonReader& section, const std::string& prefix, std::string_view key, Dimension dimension,
            double& target, NumberBounds bounds = kPositive) {
    read_recorded(section, fmt::format("failures.{}", prefix), key, dimension, target, bounds, out_.provenance);
  }

  // {"label", "replaces_node", "failures_per_chip_hour" | "failures_per_node_hour": quantity}
  void component(JsonReader& components, const std::string& id) {
    auto entry = components.object(id, Need::required);
    if (!entry) return;
    FailureComponent c;
    c.id = id;
    c.label = entry->string("label", Need::required).value_or(id);
    c.replaces_node = entry->boolean("replaces_node", Need::required).value_or(true);
    const bool per_chip = entry->has("failures_per_chip_hour");
    if (per_chip == entry->has("failures_per_node_hour")) {
      entry->problem_here("needs exactly one of \"failures_per_chip_hour\" and \"failures_per_node_hour\"");
    }
    c.scope = per_chip ? FailureScope::chip : FailureScope::node;
    read(*entry, "components." + id, per_chip ? "failures_per_chip_hour" : "failures_per_node_hour",
         Dimension::count, c.failures_per_unit_hour, kNonNegative);
    entry->finish();
    out_.components.push_back(std::move(c));
  }

 private:
  FailureData& out_;
};

}  // namespace

FailureData load_failure_data(const fs::path& root) {
  const fs::path file = root / "models" / "data" / "failures.json";
  const auto json = read_json_file(file);
  std::vector<Problem> problems;
  FailureData data;
  FailureReader read(data);
  JsonReader top(json, file.string(), "", problems);
  top.string("about", Need::optional);
  if (auto components = top.object("components", Need::required)) {
    for (const auto& id : components->keys()) read.component(*components, id);
  }
  if (auto run = top.object("run", Need::required)) {
    read.read(*run, "run", "restart", Dimension::time, data.restart_s, kNonNegative);
    read.read(*run, "run", "repair", Dimension::time, data.repair_s, kNonNegative);
    read.read(*run, "run", "storage_bandwidth", Dimension::byte_rate, data.storage_bytes_per_s);
    read.read(*run, "run", "checkpoint_bytes_per_param", Dimension::count, data.checkpoint_bytes_per_param);
    read.read(*run, "run", "hot_spare_fraction", Dimension::fraction, data.hot_spare_fraction,
              {.min = 0, .max = 1});
    double draws = data.draws;
    read.read(*run, "run", "draws", Dimension::count, draws, {.min = 1, .max = 1e7});
    data.draws = static_cast<int>(draws);
    run->finish();
  }
  if (auto s = top.object("stragglers", Need::required)) {
    auto& m = data.stragglers;
    read.read(*s, "stragglers", "slow_fraction", Dimension::fraction, m.slow_fraction, {.min = 0, .max = 1});
    read.read(*s, "stragglers", "slow_factor", Dimension::fraction, m.slow_factor, {.min = 1, .max = 100});
    read.read(*s, "stragglers", "jitter_sigma", Dimension::fraction, m.jitter_sigma, {.min = 0, .max = 1});
    s->finish();
  }
  top.finish();
  throw_if_any(problems);
  return data;
}

}  // namespace flopcast
