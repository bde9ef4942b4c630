#include "flopcast/studies/serving_search.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/text.hpp"

namespace flopcast {
namespace {

// The scenario's deployment on another chip type: that chip's default node and fabric, and its catalog prices.
ServingJob on_chip(const ServingJob& base, const Chip& chip, const Catalogs& catalogs, bool same_chip) {
  ServingJob job = base;
  if (!same_chip) {
    job.cluster.chip = chip;
    job.cluster.node = *catalogs.hardware.find_node(chip.default_node);
    job.cluster.fabric = *catalogs.hardware.find_fabric(job.cluster.node.default_fabric);
    job.cluster.nics_per_node = job.cluster.node.nic_count();
    job.costs.usd_per_chip_hour = chip.rental_price ? chip.rental_price->value : 0.0;
    job.costs.chip_capex_usd = chip.price ? chip.price->value : 0.0;
    job.costs.node_capex_usd = job.cluster.node.host_capex.value;
    // The scenario's precision where the chip has it (4-bit weights run weight-only anywhere); else the chip's
    // 8-bit path for an 8-bit scenario; else bf16.
    const auto on_this_chip = [&chip](DataType type) {
      if (chip.peak(type) || bit_length(type) == 4) return type;
      const bool eight_bit = type != DataType::bf16;
      return eight_bit && chip.peak(DataType::fp8)    ? DataType::fp8
             : eight_bit && chip.peak(DataType::int8) ? DataType::int8
                                                      : DataType::bf16;
    };
    job.serving.weight_type = on_this_chip(base.serving.weight_type);
    job.serving.expert_weight_type = on_this_chip(base.serving.expert_weight_type);
  }
  return job;
}

}  // namespace

double tokens_per_s_per_user(const ServingChoice& choice) {
  return choice.estimate.tpot.p50_s > 0 ? 1.0 / choice.estimate.tpot.p50_s : 0.0;
}

std::vector<ServingChoice> pareto_front(std::vector<ServingChoice> choices) {
  std::sort(choices.begin(), choices.end(), [](const ServingChoice& a, const ServingChoice& b) {
    const double ua = tokens_per_s_per_user(a), ub = tokens_per_s_per_user(b);
    if (ua != ub) return ua > ub;
    return a.estimate.output_tokens_per_s_per_chip > b.estimate.output_tokens_per_s_per_chip;
  });
  std::vector<ServingChoice> front;
  for (auto& c : choices) {
    if (front.empty() || c.estimate.output_tokens_per_s_per_chip > front.back().estimate.output_tokens_per_s_per_chip) {
      front.push_back(std::move(c));
    }
  }
  return front;
}

namespace {

bool better(const ServingChoice& a, const ServingChoice& b) {
  if (a.meets_slo != b.meets_slo) return a.meets_slo;
  return a.estimate.output_tokens_per_s_per_chip > b.estimate.output_tokens_per_s_per_chip;
}

}  // namespace

ServingSearch search_serving(const Scenario& scenario, const std::vector<std::string>& chips, const Catalogs& catalogs) {
  const auto started = std::chrono::steady_clock::now();
  const ServingJob base = serving_job(scenario);
  std::vector<std::string> ids = chips;
  if (ids.empty()) ids.push_back(base.cluster.chip.id);
  ServingSearch out;
  const auto& model = base.model;
  for (const auto& id : ids) {
    const Chip* chip = catalogs.hardware.find_chip(id);
    if (chip == nullptr) {
      const auto known = catalogs.hardware.chip_ids();
      throw InputError("--chips", "", fmt::format("unknown chip \"{}\"{}", id, did_you_mean(id, known)));
    }
    ServingJob job = on_chip(base, *chip, catalogs, id == base.cluster.chip.id);
    const int node_chips = job.cluster.node.chip_count();
    std::map<int, TopologySummary> topologies;  // by instance size: plans of equal size share their fabric
    ServingChoice best;
    bool found = false;
    std::vector<ServingChoice> candidates;
    for (int tp = 1; tp <= node_chips; tp *= 2) {
      for (int dpa = 1; dpa <= 256; dpa *= 2) {
        for (int pp = 1; pp <= 16; pp *= 2) {
          for (const int ep : {1, tp * dpa}) {
            if (ep == tp * dpa && (ep == 1 || !model.is_moe())) continue;  // ep 1 is tried once
            if (!model.is_moe() && dpa > 1) continue;  // dense: more attention ranks are just more instances
            ServingPool pool = job.serving.pools.front();
            pool.role = PoolRole::both;
            pool.plan = {tp, pp, dpa, ep};
            pool.chips = pool.plan.chips();
            if (pool.chips > 1024 || !serving_plan_problems(model, pool, node_chips).empty()) continue;
            ServingJob one = job;
            one.cluster.chips = pool.chips;
            one.cluster.nodes = (pool.chips + node_chips - 1) / node_chips;
            auto cached = topologies.find(pool.chips);
            if (cached == topologies.end()) {
              cached = topologies.emplace(pool.chips, build_topology(topology_spec(one.cluster))).first;
            }
            const TopologySummary& topology = cached->second;
            for (int batch = 1; batch <= 1024; batch *= 2) {
              pool.batching.max_running = batch;
              one.serving.pools = {pool};
              one.serving.workload.arrival = ArrivalKind::concurrency;
              one.serving.workload.concurrency = batch * dpa;
              ++out.evaluated;
              ServingChoice choice;
              choice.chip = id;
              choice.plan = pool.plan;
              choice.max_running = batch;
              choice.estimate = estimate_serving(one, topology, catalogs.assumptions);
              if (choice.estimate.duration_s <= 0) break;  // nothing served: the KV cache holds no request
              choice.meets_slo = choice.estimate.ttft.p50_s <= job.serving.slo.ttft_s &&
                                 choice.estimate.tpot.p50_s <= job.serving.slo.tpot_s;
              if (!found || better(choice, best)) {
                best = choice;
                found = true;
              }
              candidates.push_back(std::move(choice));
            }
          }
        }
      }
    }
    if (!found) {
      best.chip = id;
      best.estimate.notes.push_back(fmt::format("no plan of up to 1,024 {} chips holds {}", id, model.name));
    }
    out.best.push_back(best);
    out.fronts.push_back(pareto_front(std::move(candidates)));
  }
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

}  // namespace flopcast
