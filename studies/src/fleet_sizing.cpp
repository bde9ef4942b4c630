// Fleet sizing (fleet.hpp's size_job): each job sized per pool by the planner or the serving search (tier 1), and
// the sites where a mixed-fleet job holds every chip type it needs.

#include "fleet_sizing.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "flopcast/studies/planner.hpp"
#include "flopcast/studies/serving_search.hpp"

namespace flopcast {

using fleet_detail::kPowerSlack;
using fleet_detail::Placement;

namespace {

int whole_nodes(int chips, int node_chips) {
  return (chips + node_chips - 1) / node_chips * node_chips;
}

JobSizing infeasible(std::string reason) {
  JobSizing out;
  out.reason = std::move(reason);
  return out;
}

// A training job's estimate (tier 1; the whole run when its scenario has failures) on `scenario`'s cluster.
JobSizing training_sizing(const Scenario& scenario, const FleetPool& pool, const Catalogs& catalogs) {
  SimOptions options;
  options.tier = Tier::analytical;
  const auto result = simulate_scenario(scenario, catalogs, options);
  const auto& e = result.estimate;
  if (!e.memory.fits) {
    return infeasible(fmt::format("{} does not fit in memory on {} x {} ({:.1f} GiB per chip)",
                                  plan_summary(scenario.job.plan), scenario.job.cluster.chips, pool.chip.id,
                                  e.memory.total_bytes / kBytesPerGiB));
  }
  JobSizing out;
  out.feasible = true;
  // Hot spare nodes of the whole run are held beside the job (idle: no power), as apply_whole_run rents them.
  const int spares = scenario.failures ? scenario.failures->hot_spare_nodes * pool.node.chip_count() : 0;
  out.chips = whole_nodes(scenario.job.cluster.chips, pool.node.chip_count()) + spares;
  out.duration_s = e.train_s;
  out.failure_free_s = e.steps * e.step_time_s;
  out.power_w = e.energy_cost.facility_power_w;
  // Model FLOP of the whole run (recompute and failures' lost work excluded), spread over its wall time.
  const double flop = e.model_flop_per_s_per_chip * scenario.job.cluster.chips * out.failure_free_s;
  out.flop_per_s = out.duration_s > 0 ? flop / out.duration_s : 0.0;
  out.usd_per_hour = out.chips * pool.usd_per_chip_hour;
  out.plan = plan_summary(scenario.job.plan);
  return out;
}

JobSizing size_training(const FleetSpec& spec, const FleetJob& job, const FleetPool& pool, const Catalogs& catalogs) {
  Scenario base = job.scenario;
  base.job.costs.pue = spec.sites[pool.site].pue;
  base.job.training.tokens = job.tokens;
  if (base.failures) base.failures->seed = spec.seed;
  const bool same_chip = pool.chip.id == base.job.cluster.chip.id && pool.node.id == base.job.cluster.node.id;
  if (!same_chip || pool.network_given) {
    // The pool's network (see FleetPool); with_cluster grows a two-tier fat tree that cannot hold the job.
    base.job.cluster.fabric = pool.fabric;
    base.job.cluster.topology = pool.topology.value_or(TopologyKind::fat_tree_2);
  }
  try {
    if (job.scenario_plan) {
      // The scenario's own plan and chips; on another chip type, the same plan in that chip's nodes.
      if (!same_chip) base = with_cluster(base, pool.chip, base.job.cluster.chips, catalogs);
      return training_sizing(base, pool, catalogs);
    }
    const int node_chips = pool.node.chip_count();
    int chips = whole_nodes(job.chips.value_or(base.job.cluster.chips), node_chips);
    if (job.deadline_s && !job.chips) {
      const double days = (*job.deadline_s - job.arrival_s) / kSecondsPerDay;
      if (days <= 0) return infeasible("its deadline is not after its arrival");
      if (auto fewest = fewest_chips(base, pool.chip, days, pool.chips, catalogs)) chips = fewest->chips;
    }
    const auto sized = best_plan_at(base, pool.chip, chips, catalogs);
    if (!sized.best) return infeasible(fmt::format("no plan of {} x {} fits in memory", chips, pool.chip.id));
    Scenario chosen = with_cluster(base, pool.chip, chips, catalogs);
    chosen.job.plan = sized.best->plan;
    return training_sizing(chosen, pool, catalogs);
  } catch (const ModelError& error) {
    return infeasible(error.what());
  }
}

JobSizing size_serving(const FleetSpec& spec, const FleetJob& job, const FleetPool& pool, const Catalogs& catalogs) {
  Scenario base = job.scenario;
  base.job.costs.pue = spec.sites[pool.site].pue;
  ServingSearch search;
  try {
    search = search_serving(base, {pool.chip.id}, catalogs);
  } catch (const ModelError& error) {
    return infeasible(error.what());
  }
  const auto& choice = search.best.front();
  const auto& slo = base.serving->setup.slo;
  if (!choice.meets_slo || choice.estimate.output_tokens_per_s <= 0) {
    return infeasible(fmt::format("no serving plan on {} meets the SLO (TTFT <= {:g} s, TPOT <= {:g} s)", pool.chip.id,
                                  slo.ttft_s, slo.tpot_s));
  }
  // Instances to serve the demand: ceil(output tokens per second / one instance's output tokens per second).
  const double demand_per_s = job.tokens / kSecondsPerDay;
  const double per_instance = choice.estimate.output_tokens_per_s;
  const long instances = std::max(1L, static_cast<long>(std::ceil(demand_per_s / per_instance - 1e-12)));
  const int instance_chips = choice.plan.chips();
  JobSizing out;
  out.feasible = true;
  out.chips = whole_nodes(static_cast<int>(instances) * instance_chips, pool.node.chip_count());
  // Every instance is powered; the FLOP/s is the saturated instances' scaled to the demand they carry.
  out.power_w = choice.estimate.facility_power_w * static_cast<double>(instances);
  const double load = demand_per_s / (per_instance * static_cast<double>(instances));
  out.flop_per_s = choice.estimate.mfu * pool.chip.peak_flop_per_s(DataType::bf16) * instance_chips *
                   static_cast<double>(instances) * load;
  out.usd_per_hour = out.chips * pool.usd_per_chip_hour;
  out.plan = fmt::format("{} instances of tp {}, pp {}, dp_attention {}, ep {}; {} sequences per rank", instances,
                         choice.plan.tp, choice.plan.pp, choice.plan.dp_attention, choice.plan.ep, choice.max_running);
  return out;
}

// The chips of each chip type a mixed-fleet scenario runs on: pp stages of chips / pp chips each, the stage groups'
// on their chip and the rest on the cluster's chip, in first-appearance order of chip ids.
std::vector<std::pair<std::string, int>> chips_by_type(const ClusterSetup& cluster, int pp) {
  const int per_stage = cluster.chips / pp;
  std::vector<std::pair<std::string, int>> out{{cluster.chip.id, cluster.chips}};
  for (const auto& group : cluster.stage_chips) {
    const int chips = per_stage * static_cast<int>(group.stages.size());
    out.front().second -= chips;
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& t) { return t.first == group.chip.id; });
    if (it == out.end()) {
      out.emplace_back(group.chip.id, chips);
    } else {
      it->second += chips;
    }
  }
  std::erase_if(out, [](const auto& t) { return t.second <= 0; });
  return out;
}

}  // namespace

namespace fleet_detail {

// A mixed-fleet training job (its scenario's cluster.stage_chips, its own plan, nodes and network) at each site
// where the job's pools hold every chip type it needs: the first such pool per type, in the job's pool order. The
// sizing is the scenario's tier-1 estimate (the whole run with failures) at the site's PUE; hot spare nodes are held
// in the pool of the cluster's chip. Sites that cannot hold it add a reason.
std::vector<Placement> mixed_placements(const FleetSpec& spec, const FleetJob& job, const Catalogs& catalogs,
                                        std::map<std::string, JobSizing>& cache, std::vector<std::string>& reasons) {
  std::vector<Placement> out;
  std::vector<std::size_t> sites;
  for (std::size_t p : job.pools) {
    if (std::find(sites.begin(), sites.end(), spec.pools[p].site) == sites.end()) sites.push_back(spec.pools[p].site);
  }
  const auto types = chips_by_type(job.scenario.job.cluster, job.scenario.job.plan.pp);
  for (std::size_t site_index : sites) {
    const auto& site = spec.sites[site_index];
    Placement placement;
    std::vector<std::string> missing;
    for (const auto& type : types) {
      const auto it = std::find_if(job.pools.begin(), job.pools.end(), [&](std::size_t p) {
        return spec.pools[p].site == site_index && spec.pools[p].chip.id == type.first;
      });
      if (it == job.pools.end()) {
        missing.push_back(type.first);
      } else {
        placement.parts.emplace_back(*it, type.second);
      }
    }
    if (!missing.empty()) {
      reasons.push_back(fmt::format("site {}: no pool of {} among the job's pools", site.id, fmt::join(missing, ", ")));
      continue;
    }
    const auto& main_pool = spec.pools[placement.parts.front().first];
    const std::string key = fmt::format("mixed|{}|{:.17g}|{}|{:.17g}|{}", job.scenario.file, job.tokens, site.id,
                                        site.pue, spec.seed);
    auto cached = cache.find(key);
    if (cached == cache.end()) {
      Scenario scenario = job.scenario;
      scenario.job.costs.pue = site.pue;
      scenario.job.training.tokens = job.tokens;
      if (scenario.failures) scenario.failures->seed = spec.seed;
      JobSizing sizing;
      try {
        sizing = training_sizing(scenario, main_pool, catalogs);
      } catch (const ModelError& error) {
        sizing = infeasible(error.what());
      }
      cached = cache.emplace(key, sizing).first;
    }
    placement.sizing = cached->second;
    auto& sizing = placement.sizing;
    if (sizing.feasible) {
      // training_sizing counted every chip on the main pool: spread them over the parts, spares on the main one.
      placement.parts.front().second += sizing.chips - job.scenario.job.cluster.chips;
      sizing.usd_per_hour = 0;
      for (const auto& [p, chips] : placement.parts) {
        sizing.usd_per_hour += chips * spec.pools[p].usd_per_chip_hour;
        if (chips > spec.pools[p].chips) {
          sizing = infeasible(fmt::format("needs {} chips; pool \"{}\" has {}", chips, spec.pools[p].id,
                                          spec.pools[p].chips));
          break;
        }
      }
    }
    if (sizing.feasible && sizing.power_w > site.power_capacity_w * (1 + kPowerSlack)) {
      sizing = infeasible(fmt::format("draws {:.2f} MW; site \"{}\" has {:.2f} MW", sizing.power_w / 1e6, site.id,
                                      site.power_capacity_w / 1e6));
    }
    if (!sizing.feasible) reasons.push_back(fmt::format("site {}: {}", site.id, sizing.reason));
    out.push_back(std::move(placement));
  }
  return out;
}

}  // namespace fleet_detail

JobSizing size_job(const FleetSpec& spec, const FleetJob& job, const FleetPool& pool, const Catalogs& catalogs,
                   std::map<std::string, JobSizing>& cache) {
  // The pool's size matters only to a deadline search (its upper bound); the site's capacity is checked below.
  const bool deadline_search = job.kind == FleetJobKind::training && job.deadline_s && !job.chips && !job.scenario_plan;
  const std::string key = fmt::format(
      "{}|{}|{:.17g}|{}|{:.17g}|{:.17g}|{}|{}|{}|{:.17g}|{}", job.scenario.file, static_cast<int>(job.kind), job.tokens,
      pool.chip.id, spec.sites[pool.site].pue, pool.usd_per_chip_hour, job.chips.value_or(0), job.scenario_plan,
      deadline_search ? pool.chips : 0, deadline_search ? *job.deadline_s - job.arrival_s : -1.0, spec.seed);
  auto it = cache.find(key);
  if (it == cache.end()) {
    it = cache
             .emplace(key, job.kind == FleetJobKind::training ? size_training(spec, job, pool, catalogs)
                                                              : size_serving(spec, job, pool, catalogs))
             .first;
  }
  JobSizing sizing = it->second;
  const auto& site = spec.sites[pool.site];
  if (sizing.feasible && sizing.chips > pool.chips) {
    return infeasible(fmt::format("needs {} chips; pool \"{}\" has {}", sizing.chips, pool.id, pool.chips));
  }
  if (sizing.feasible && sizing.power_w > site.power_capacity_w * (1 + kPowerSlack)) {
    return infeasible(fmt::format("draws {:.2f} MW; site \"{}\" has {:.2f} MW", sizing.power_w / 1e6, site.id,
                                  site.power_capacity_w / 1e6));
  }
  return sizing;
}

}  // namespace flopcast
