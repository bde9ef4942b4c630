#include "flopcast/scenarios/uncertainty.hpp"

#include "flopcast/sim/whole_run.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <random>

#include <fmt/format.h>

namespace flopcast {

namespace {

constexpr double kNegligibleLogEffect = 0.005;

// One ranged catalog input: where it lives and how to set it in a copy of the job.
struct Knob {
  std::string name;
  Quantity quantity;
  std::function<void(TrainingJob&, double)> set;  // the value in internal units
  bool changes_topology = false;
};

// Applies `f` to every copy of chip `id` in the job (the cluster's and the stage groups').
void for_chip(TrainingJob& job, const std::string& id, const std::function<void(Chip&)>& f) {
  if (job.cluster.chip.id == id) f(job.cluster.chip);
  for (auto& group : job.cluster.stage_chips) {
    if (group.chip.id == id) f(group.chip);
  }
}

void for_node(TrainingJob& job, const std::string& id, const std::function<void(Node&)>& f) {
  if (job.cluster.node.id == id) f(job.cluster.node);
  for (auto& group : job.cluster.stage_chips) {
    if (group.node.id == id) f(group.node);
  }
}

bool ranged(const Quantity& q) {
  return q.low && q.high && (*q.low < q.value || *q.high > q.value);
}

// Every input of `scenario` given as a range in the catalog and used by the estimate.
std::vector<Knob> knobs_of(const Scenario& scenario) {
  const auto& job = scenario.job;
  const auto& c = job.cluster;
  const bool rental = job.costs.mode == CostMode::rental;
  std::vector<Knob> out;
  const auto add = [&out](std::string name, const Quantity& q, std::function<void(TrainingJob&, double)> set,
                          bool topology = false) {
    if (ranged(q)) out.push_back({std::move(name), q, std::move(set), topology});
  };

  std::vector<const Chip*> chips{&c.chip};
  std::vector<const Node*> nodes{&c.node};
  for (const auto& group : c.stage_chips) {
    if (std::none_of(chips.begin(), chips.end(), [&](const Chip* x) { return x->id == group.chip.id; })) {
      chips.push_back(&group.chip);
    }
    if (std::none_of(nodes.begin(), nodes.end(), [&](const Node* x) { return x->id == group.node.id; })) {
      nodes.push_back(&group.node);
    }
  }
  std::vector<DataType> peaks{DataType::bf16};
  if (gemm_data_type(job) != DataType::bf16) peaks.push_back(gemm_data_type(job));
  for (const Chip* chip : chips) {
    const std::string id = chip->id;
    for (auto type : peaks) {
      if (!chip->peak(type)) continue;
      const auto index = static_cast<std::size_t>(type);
      add(fmt::format("{} peak_dense.{}", id, to_string(type)), *chip->peak(type), [id, index](TrainingJob& j, double v) {
        for_chip(j, id, [&](Chip& x) { x.peak_dense[index]->value = v; });
      });
    }
    const auto field = [&](const char* name, Quantity Chip::*member) {
      add(fmt::format("{} {}", id, name), (*chip).*member, [id, member](TrainingJob& j, double v) {
        for_chip(j, id, [&](Chip& x) { (x.*member).value = v; });
      });
    };
    field("hbm_bandwidth", &Chip::hbm_bandwidth);
    field("tdp", &Chip::tdp);
    // A price from the catalog (not one the scenario gives) carries the catalog's range.
    const auto& price = rental ? chip->rental_price : chip->price;
    if (!price) continue;
    const std::string price_name = fmt::format("{} {}", id, rental ? "rental_price" : "price");
    if (c.chip.id == id && scenario.catalog_prices.chip) {
      add(price_name + " (cluster)", *price, [rental](TrainingJob& j, double v) {
        (rental ? j.costs.usd_per_chip_hour : j.costs.chip_capex_usd) = v;
      });
    }
    for (std::size_t g = 0; g < c.stage_chips.size(); ++g) {
      if (c.stage_chips[g].chip.id != id || g >= scenario.catalog_prices.stage_groups.size() ||
          !scenario.catalog_prices.stage_groups[g]) {
        continue;
      }
      add(fmt::format("{} (stage group {})", price_name, g), *price, [rental, g](TrainingJob& j, double v) {
        auto& group = j.cluster.stage_chips[g];
        (rental ? group.usd_per_chip_hour : group.chip_capex_usd) = v;
      });
    }
  }
  for (const Node* node : nodes) {
    const std::string id = node->id;
    const auto field = [&](const char* name, Quantity Node::*member) {
      add(fmt::format("{} {}", id, name), (*node).*member, [id, member](TrainingJob& j, double v) {
        for_node(j, id, [&](Node& x) { (x.*member).value = v; });
      });
    };
    field("scaleup_bandwidth_per_direction", &Node::scaleup_bandwidth_per_direction);
    field("scaleup_latency", &Node::scaleup_latency);
    field("nic_bandwidth", &Node::nic_bandwidth);
    field("host_power", &Node::host_power);
    if ((job.plan.offload_activation_layers > 0 || job.plan.optimizer_offload_fraction > 0) &&
        node->host_link_bandwidth_per_direction) {
      add(fmt::format("{} host_link_bandwidth_per_direction", id), *node->host_link_bandwidth_per_direction,
          [id](TrainingJob& j, double v) {
            for_node(j, id, [&](Node& x) { x.host_link_bandwidth_per_direction->value = v; });
          });
    }
    if (job.plan.optimizer_offload_fraction > 0 && node->host_memory_bandwidth) {
      add(fmt::format("{} host_memory_bandwidth", id), *node->host_memory_bandwidth, [id](TrainingJob& j, double v) {
        for_node(j, id, [&](Node& x) { x.host_memory_bandwidth->value = v; });
      });
    }
    if (!rental) {
      // The cluster's node capex is in the costs when it came from the catalog; stage groups read the node's.
      const bool in_costs = c.node.id == id && scenario.catalog_prices.node;
      add(fmt::format("{} host_capex", id), node->host_capex, [id, in_costs](TrainingJob& j, double v) {
        for_node(j, id, [&](Node& x) { x.host_capex.value = v; });
        if (in_costs) j.costs.node_capex_usd = v;
      });
    }
  }
  const auto fabric = [&](const char* name, Quantity Fabric::*member, bool topology) {
    add(fmt::format("{} {}", c.fabric.id, name), c.fabric.*member,
        [member](TrainingJob& j, double v) { (j.cluster.fabric.*member).value = v; }, topology);
  };
  fabric("port_bandwidth", &Fabric::port_bandwidth, true);
  fabric("switch_latency", &Fabric::switch_latency, false);
  fabric("nic_latency", &Fabric::nic_latency, false);
  fabric("switch_power_per_port", &Fabric::switch_power_per_port, false);
  if (!rental && !job.costs.network_capex_usd) fabric("switch_capex_per_port", &Fabric::switch_capex_per_port, false);
  return out;
}

// An internal value in the catalog's `unit`.
double in_unit(const std::string& unit, double internal) {
  const auto info = find_unit(unit);
  return info ? internal / info->to_internal : internal;
}

// A triangular draw on [low, high] with its mode at `mode`, from a uniform u in [0, 1).
double triangular(double low, double mode, double high, double u) {
  const double span = high - low;
  if (span <= 0) return mode;
  const double f = (mode - low) / span;
  return u < f ? low + std::sqrt(u * span * (mode - low)) : high - std::sqrt((1.0 - u) * span * (high - mode));
}

// log of the effect at x, interpolated between the ends: 0 at the value, log(ratio) at an end.
double log_effect(double x, double low, double value, double high, double ratio_low, double ratio_high) {
  if (x < value && value > low) return (value - x) / (value - low) * std::log(ratio_low);
  if (x > value && high > value) return (x - value) / (high - value) * std::log(ratio_high);
  return 0.0;
}

double quantile(std::vector<double>& sorted, double p) {
  const auto i = static_cast<std::size_t>(std::clamp(p * static_cast<double>(sorted.size()), 0.0,
                                                     static_cast<double>(sorted.size() - 1)));
  return sorted[i];
}

}  // namespace

PredictionIntervals prediction_intervals(const Scenario& scenario, const TrainingEstimate& central, Tier tier,
                                         const Catalogs& catalogs, const WholeRunResult* whole_run) {
  const auto& a = catalogs.assumptions;
  const auto& job = scenario.job;
  PredictionIntervals out;

  // The model's spread: calibrated only when every chip family in the cluster was.
  const auto calibrated = [&](const std::string& family) {
    return std::find(a.calibrated_families.begin(), a.calibrated_families.end(), family) != a.calibrated_families.end();
  };
  out.calibrated = calibrated(job.cluster.chip.family);
  for (const auto& group : job.cluster.stage_chips) out.calibrated = out.calibrated && calibrated(group.chip.family);
  // The widest spread of the chip families in the cluster, each at its slice (family and dense or MoE).
  const std::size_t t = tier == Tier::analytical ? 0 : 1;
  const bool moe = job.model.is_moe();
  out.spread_slice = a.spread_slice(t, job.cluster.chip.family, moe);
  out.model_log_sigma = a.model_log_sigma(t, job.cluster.chip.family, moe);
  for (const auto& group : job.cluster.stage_chips) {
    const double sigma = a.model_log_sigma(t, group.chip.family, moe);
    if (sigma > out.model_log_sigma) {
      out.model_log_sigma = sigma;
      out.spread_slice = a.spread_slice(t, group.chip.family, moe);
    }
  }
  const bool own = !out.spread_slice.empty();
  out.spread_source = own ? fmt::format("{}, {} runs", a.prediction_spread_source, out.spread_slice)
                          : fmt::format("{}, {} families", a.prediction_spread_source,
                                        out.calibrated ? "calibrated" : "uncalibrated");

  // Each ranged input at its two ends, in tier 1, against tier 1 at the central values.
  // Every tier's estimate carries the cluster's topology: it is not built again.
  const auto& topology = central.topology;
  EstimateOptions options;
  options.topology = &topology;
  const auto base = estimate_training(job, a, options);
  for (auto& knob : knobs_of(scenario)) {
    const auto& q = knob.quantity;
    UncertainInput input{knob.name, q.unit, std::min(*q.low, q.value), q.value, std::max(*q.high, q.value)};
    const auto at = [&](double v, double& step_ratio, double& cost_ratio) {
      TrainingJob changed = job;
      knob.set(changed, v);
      TopologySummary own;
      EstimateOptions o;
      o.topology = &topology;
      if (knob.changes_topology) {
        own = build_topology(topology_spec(changed.cluster));
        o.topology = &own;
      }
      const auto e = estimate_training(changed, a, o);
      step_ratio = e.step_time_s / base.step_time_s;
      cost_ratio = base.energy_cost.cost_usd > 0 ? e.energy_cost.cost_usd / base.energy_cost.cost_usd : 1.0;
    };
    at(input.low, input.step_ratio_low, input.cost_ratio_low);
    at(input.high, input.step_ratio_high, input.cost_ratio_high);
    // An input that moves neither step time nor cost by 0.5 % at either end is left out of the list and the draw.
    const bool moves = std::max({std::fabs(std::log(input.step_ratio_low)), std::fabs(std::log(input.step_ratio_high)),
                                 std::fabs(std::log(input.cost_ratio_low)), std::fabs(std::log(input.cost_ratio_high))}) >
                       kNegligibleLogEffect;
    if (!moves) continue;
    out.inputs.push_back(input);
  }
  const auto swing = [](const UncertainInput& i) {
    return std::fabs(std::log(i.cost_ratio_high / i.cost_ratio_low)) +
           std::fabs(std::log(i.step_ratio_high / i.step_ratio_low));
  };
  std::stable_sort(out.inputs.begin(), out.inputs.end(),
                   [&](const auto& x, const auto& y) { return swing(x) > swing(y); });

  // Monte Carlo in log space: the model error plus each input's effect.
  // 4,000 draws put a sample p10 or p90 within about 1 % of the distribution's (the binomial spread of the
  // quantile's rank, sqrt(0.1 x 0.9 / 4000) = 0.5 % of the draws, over a density near the tails).
  constexpr int kSamples = 4000;
  std::mt19937_64 rng(20261123);
  const auto uniform = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  // The whole run's spread as a two-piece normal in log space through its p10, p50 and p90 (z90 = 1.2816, the
  // standard normal's 90th percentile).
  if (whole_run != nullptr && whole_run->runs.p10_wall_s > 0) {
    out.run_log_sigma_low = std::log(whole_run->runs.p50_wall_s / whole_run->runs.p10_wall_s) / kNormalZ90;
    out.run_log_sigma_high = std::log(whole_run->runs.p90_wall_s / whole_run->runs.p50_wall_s) / kNormalZ90;
  }
  std::vector<double> log_step(kSamples), log_cost(kSamples), log_rate(kSamples), log_run(kSamples);
  for (int s = 0; s < kSamples; ++s) {
    // Box-Muller, written out so the draw is the same on every standard library.
    const double z = std::sqrt(-2.0 * std::log(1.0 - uniform())) * std::cos(2.0 * std::numbers::pi * uniform());
    double step = z * out.model_log_sigma;
    double cost = step;
    double rate = 0;  // cost per hour: the model error scales hours, not the hourly rate
    for (const auto& i : out.inputs) {
      const double x = triangular(i.low, i.value, i.high, uniform());
      const double step_effect = log_effect(x, i.low, i.value, i.high, i.step_ratio_low, i.step_ratio_high);
      const double cost_effect = log_effect(x, i.low, i.value, i.high, i.cost_ratio_low, i.cost_ratio_high);
      step += step_effect;
      cost += cost_effect;
      rate += cost_effect - step_effect;
    }
    double run = 0;  // drawn only with a whole run, so that the draws without one stay as they were
    if (whole_run != nullptr) {
      const double z_run = std::sqrt(-2.0 * std::log(1.0 - uniform())) * std::cos(2.0 * std::numbers::pi * uniform());
      run = z_run * (z_run < 0 ? out.run_log_sigma_low : out.run_log_sigma_high);
    }
    log_step[static_cast<std::size_t>(s)] = step;
    log_run[static_cast<std::size_t>(s)] = step + run;  // days and chip-hours: the step's error and the run's luck
    log_cost[static_cast<std::size_t>(s)] = cost + run;
    log_rate[static_cast<std::size_t>(s)] = rate;
  }
  std::sort(log_step.begin(), log_step.end());
  std::sort(log_cost.begin(), log_cost.end());
  std::sort(log_rate.begin(), log_rate.end());
  std::sort(log_run.begin(), log_run.end());
  const double step_lo = std::exp(quantile(log_step, 0.1)), step_hi = std::exp(quantile(log_step, 0.9));
  const double days_lo = std::exp(quantile(log_run, 0.1)), days_hi = std::exp(quantile(log_run, 0.9));
  const double cost_lo = std::exp(quantile(log_cost, 0.1)), cost_hi = std::exp(quantile(log_cost, 0.9));
  out.samples = kSamples;
  out.step_time_s = {central.step_time_s * step_lo, central.step_time_s * step_hi};
  out.train_days = {central.train_days * days_lo, central.train_days * days_hi};
  out.cost_usd = {central.energy_cost.cost_usd * cost_lo, central.energy_cost.cost_usd * cost_hi};
  out.usd_per_mtok = {central.energy_cost.usd_per_mtok * cost_lo, central.energy_cost.usd_per_mtok * cost_hi};
  const double hours = central.train_s / kSecondsPerHour;
  const double usd_per_hour = hours > 0 ? central.energy_cost.cost_usd / hours : 0.0;
  out.usd_per_hour = {usd_per_hour * std::exp(quantile(log_rate, 0.1)), usd_per_hour * std::exp(quantile(log_rate, 0.9))};
  // Chip-hours go with the days; throughput and MFU (against the catalog peak) inversely with the step time.
  out.chip_hours = {central.chip_hours * days_lo, central.chip_hours * days_hi};
  out.tokens_per_s_per_chip = {central.tokens_per_s_per_chip / step_hi, central.tokens_per_s_per_chip / step_lo};
  out.mfu = {central.mfu / step_hi, central.mfu / step_lo};

  // Report the inputs in their catalog units.
  for (auto& i : out.inputs) {
    i.low = in_unit(i.unit, i.low);
    i.value = in_unit(i.unit, i.value);
    i.high = in_unit(i.unit, i.high);
  }
  return out;
}

}  // namespace flopcast
