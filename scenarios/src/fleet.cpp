// Fleet sizing and simulation (fleet.hpp): each job sized per pool by the planner or the serving search (tier 1),
// then an event loop over arrivals and completions that allocates whole nodes under each site's power limit.

#include "flopcast/scenarios/fleet.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <tuple>

#include "flopcast/scenarios/planner.hpp"
#include "flopcast/scenarios/serving_search.hpp"

namespace flopcast {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kSecondsPerYear = kHoursPerYear * kSecondsPerHour;  // 365.25 days: FLOP/s-years
// Power comparisons allow a relative slack of 1e-9: the sum of running jobs' draws is accumulated in floating point.
constexpr double kPowerSlack = 1e-9;

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

// Where a job may run and what it takes there: the chips it holds in each pool (one pool, or for a mixed-fleet job
// one pool per chip type at one site) and its sizing as a whole.
struct Placement {
  std::vector<std::pair<std::size_t, int>> parts;  // (pool, chips)
  JobSizing sizing;
};

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

// Events at equal times: completions first (they free chips and power), then arrivals, then one scheduling pass.
enum class EventKind : int { completion = 0, arrival = 1 };
struct Event {
  double time_s;
  EventKind kind;
  long seq;
  std::size_t job;
  bool operator>(const Event& o) const { return std::tie(time_s, kind, seq) > std::tie(o.time_s, o.kind, o.seq); }
};

double overlap_s(double start, double finish, double horizon) {
  return std::max(0.0, std::min(finish, horizon) - std::max(start, 0.0));
}

void push_point(std::vector<FleetPoint>& series, double t_days, double value) {
  if (!series.empty() && series.back().t_days == t_days) {
    series.back().value = value;
  } else if (series.empty() || series.back().value != value) {
    series.push_back({t_days, value});
  }
}

// The last value held to the horizon's end, so that a chart draws it across.
void close_series(std::vector<FleetPoint>& series, double horizon_days) {
  if (series.empty()) series.push_back({0.0, 0.0});
  if (series.back().t_days < horizon_days) series.push_back({horizon_days, series.back().value});
}

// days_from_civil (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms") and its inverse.
long days_from_civil(long y, long m, long d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const long yoe = y - era * 400;
  const long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string civil_from_days(long z) {
  z += 719468;
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const long doe = z - era * 146097;
  const long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const long mp = (5 * doy + 2) / 153;
  const long d = doy - (153 * mp + 2) / 5 + 1;
  const long m = mp + (mp < 10 ? 3 : -9);
  const long y = yoe + era * 400 + (m <= 2);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

}  // namespace

std::string_view to_string(FleetJobStatus status) {
  switch (status) {
    case FleetJobStatus::finished:
      return "finished";
    case FleetJobStatus::running_at_horizon_end:
      return "running at the horizon's end";
    case FleetJobStatus::waiting_at_horizon_end:
      return "waiting at the horizon's end";
    case FleetJobStatus::unscheduled:
      return "unscheduled";
  }
  return "unscheduled";
}

std::string date_after(const std::string& start_date, double days) {
  const long y = std::stol(start_date.substr(0, 4));
  const long m = std::stol(start_date.substr(5, 2));
  const long d = std::stol(start_date.substr(8, 2));
  return civil_from_days(days_from_civil(y, m, d) + static_cast<long>(std::floor(days)));
}

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

FleetResult simulate_fleet(const FleetSpec& spec, const Catalogs& catalogs, const FleetOptions& options) {
  const auto t0 = Clock::now();
  const double horizon = spec.horizon_s;
  FleetResult out;
  out.name = spec.name;
  out.file = spec.file;
  out.horizon_days = horizon / kSecondsPerDay;
  out.start_date = spec.start_date;
  out.seed = spec.seed;

  // Sizing: each job on each pool it may use.
  std::map<std::string, JobSizing> local_cache;
  auto& cache = options.cache != nullptr ? *options.cache : local_cache;
  const std::size_t n_jobs = spec.jobs.size();
  std::vector<std::vector<Placement>> options_of(n_jobs);
  out.jobs.resize(n_jobs);
  for (std::size_t j = 0; j < n_jobs; ++j) {
    const auto& job = spec.jobs[j];
    auto& r = out.jobs[j];
    r.name = job.name;
    r.kind = job.kind;
    r.priority = job.priority;
    r.arrival_days = job.arrival_s / kSecondsPerDay;
    r.tokens = job.tokens;
    if (job.deadline_s) r.deadline_days = *job.deadline_s / kSecondsPerDay;
    std::vector<std::string> reasons;
    if (options.cancel != nullptr && options.cancel->load()) throw ModelError("cancelled");
    if (job.mixed) {
      options_of[j] = mixed_placements(spec, job, catalogs, cache, reasons);
    } else {
      for (std::size_t p : job.pools) {
        if (options.cancel != nullptr && options.cancel->load()) throw ModelError("cancelled");
        auto sizing = size_job(spec, job, spec.pools[p], catalogs, cache);
        if (!sizing.feasible) reasons.push_back(fmt::format("{}: {}", spec.pools[p].id, sizing.reason));
        const int chips = sizing.chips;
        options_of[j].push_back({{{p, chips}}, std::move(sizing)});
      }
    }
    if (options.progress) options.progress(fmt::format("sized {} ({} of {})", job.name, j + 1, n_jobs));
    r.reason = fmt::format("{}", fmt::join(reasons, "; "));
  }
  const auto t1 = Clock::now();
  out.sizing_wall_s = std::chrono::duration<double>(t1 - t0).count();

  // The event loop.
  std::vector<int> free_chips;
  for (const auto& p : spec.pools) free_chips.push_back(p.chips);
  std::vector<double> site_draw_w(spec.sites.size(), 0.0);
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  long seq = 0;
  for (std::size_t j = 0; j < n_jobs; ++j) {
    const bool any = std::any_of(options_of[j].begin(), options_of[j].end(),
                                 [](const Placement& option) { return option.sizing.feasible; });
    if (!any) continue;  // unscheduled: no pool can ever run it
    if (spec.jobs[j].kind == FleetJobKind::serving && spec.jobs[j].arrival_s >= horizon) continue;
    events.push({spec.jobs[j].arrival_s, EventKind::arrival, seq++, j});
  }
  std::vector<std::size_t> queue;  // waiting jobs
  const auto before = [&](std::size_t a, std::size_t b) {
    const auto& x = spec.jobs[a];
    const auto& y = spec.jobs[b];
    return std::make_tuple(-x.priority, x.arrival_s, a) < std::make_tuple(-y.priority, y.arrival_s, b);
  };
  std::vector<const Placement*> running(n_jobs, nullptr);
  std::vector<double> start_s(n_jobs, 0), finish_s(n_jobs, 0);
  out.pools.resize(spec.pools.size());
  out.sites.resize(spec.sites.size());
  const auto record = [&](double t) {
    const double t_days = std::min(t, horizon) / kSecondsPerDay;
    if (t > horizon) return;
    for (std::size_t p = 0; p < spec.pools.size(); ++p) {
      push_point(out.pools[p].busy_chips, t_days, spec.pools[p].chips - free_chips[p]);
    }
    for (std::size_t s = 0; s < spec.sites.size(); ++s) push_point(out.sites[s].power_mw, t_days, site_draw_w[s] / 1e6);
  };
  record(0);
  while (!events.empty()) {
    const double now = events.top().time_s;
    while (!events.empty() && events.top().time_s == now) {
      const Event e = events.top();
      events.pop();
      ++out.events;
      if (e.kind == EventKind::completion) {
        const auto& placement = *running[e.job];
        for (const auto& [p, chips] : placement.parts) free_chips[p] += chips;
        site_draw_w[spec.pools[placement.parts.front().first].site] -= placement.sizing.power_w;
      } else {
        queue.insert(std::upper_bound(queue.begin(), queue.end(), e.job, before), e.job);
      }
    }
    // First fit, walking the queue in order.
    for (auto it = queue.begin(); it != queue.end();) {
      const std::size_t j = *it;
      const auto& job = spec.jobs[j];
      if (job.kind == FleetJobKind::serving && now >= horizon) {  // demand that never got chips in the horizon
        it = queue.erase(it);
        continue;
      }
      bool started = false;
      for (const auto& option : options_of[j]) {
        const auto& s = option.sizing;
        if (!s.feasible) continue;
        const std::size_t site = spec.pools[option.parts.front().first].site;
        const bool chips_free = std::all_of(option.parts.begin(), option.parts.end(),
                                            [&](const auto& part) { return part.second <= free_chips[part.first]; });
        if (!chips_free) continue;
        if (site_draw_w[site] + s.power_w > spec.sites[site].power_capacity_w * (1 + kPowerSlack)) continue;
        for (const auto& [p, chips] : option.parts) free_chips[p] -= chips;
        site_draw_w[site] += s.power_w;
        running[j] = &option;
        start_s[j] = now;
        finish_s[j] = job.kind == FleetJobKind::training ? now + s.duration_s
                                                         : (job.duration_s ? now + *job.duration_s : horizon);
        events.push({finish_s[j], EventKind::completion, seq++, j});
        started = true;
        break;
      }
      it = started ? queue.erase(it) : it + 1;
    }
    record(now);
  }
  const double horizon_days = horizon / kSecondsPerDay;
  for (std::size_t p = 0; p < spec.pools.size(); ++p) {
    const auto& pool = spec.pools[p];
    auto& r = out.pools[p];
    r.id = pool.id;
    r.site = spec.sites[pool.site].id;
    r.chip = pool.chip.id;
    r.chips = pool.chips;
    r.held_cost_usd = pool.chips * pool.usd_per_chip_hour * horizon / kSecondsPerHour;
    close_series(r.busy_chips, horizon_days);
  }
  for (std::size_t s = 0; s < spec.sites.size(); ++s) {
    auto& r = out.sites[s];
    r.id = spec.sites[s].id;
    r.capacity_mw = spec.sites[s].power_capacity_w / 1e6;
    close_series(r.power_mw, horizon_days);
    for (const auto& point : r.power_mw) r.peak_mw = std::max(r.peak_mw, point.value);
  }
  std::vector<double> busy_chip_s(spec.pools.size(), 0.0);
  for (std::size_t j = 0; j < n_jobs; ++j) {
    auto& r = out.jobs[j];
    const auto& job = spec.jobs[j];
    if (running[j] == nullptr) {
      if (r.reason.empty()) r.reason = "no chips or power free for it within the horizon";
      continue;
    }
    const auto& placement = *running[j];
    const auto& s = placement.sizing;
    r.reason.clear();
    r.status = finish_s[j] <= horizon ? FleetJobStatus::finished
               : start_s[j] < horizon ? FleetJobStatus::running_at_horizon_end
                                      : FleetJobStatus::waiting_at_horizon_end;
    std::vector<std::string> pool_ids, chip_ids;
    for (const auto& [p, chips] : placement.parts) {
      pool_ids.push_back(spec.pools[p].id);
      chip_ids.push_back(spec.pools[p].chip.id);
    }
    r.pool = fmt::format("{}", fmt::join(pool_ids, "+"));
    r.chip = fmt::format("{}", fmt::join(chip_ids, "+"));
    r.chips = s.chips;
    r.plan = s.plan;
    r.start_days = start_s[j] / kSecondsPerDay;
    r.finish_days = finish_s[j] / kSecondsPerDay;
    if (job.deadline_s) r.deadline_met = finish_s[j] <= *job.deadline_s;
    r.power_mw = s.power_w / 1e6;
    const double inside = overlap_s(start_s[j], finish_s[j], horizon);
    r.energy_mwh = s.power_w * inside / 3.6e9;
    r.cost_usd = s.usd_per_hour * inside / kSecondsPerHour;
    r.flop = s.flop_per_s * inside;
    // A mixed-fleet job's FLOP and energy are split over its pools by their share of its chips.
    for (const auto& [p, chips] : placement.parts) {
      const double share = static_cast<double>(chips) / s.chips;
      busy_chip_s[p] += chips * inside;
      out.pools[p].flop += r.flop * share;
      out.pools[p].energy_mwh += r.energy_mwh * share;
    }
    out.sites[spec.pools[placement.parts.front().first].site].energy_mwh += r.energy_mwh;
    out.flop += r.flop;
    out.energy_mwh += r.energy_mwh;
    out.job_cost_usd += r.cost_usd;
    if (job.kind == FleetJobKind::training && r.status == FleetJobStatus::finished) ++out.jobs_finished;
  }
  for (std::size_t p = 0; p < spec.pools.size(); ++p) {
    out.pools[p].utilisation = busy_chip_s[p] / (spec.pools[p].chips * horizon);
    out.held_cost_usd += out.pools[p].held_cost_usd;
  }
  out.flop_per_s_years = out.flop / kSecondsPerYear;
  out.electricity_usd = out.energy_mwh * 1000.0 * spec.electricity_usd_per_kwh;
  out.simulation_wall_s = std::chrono::duration<double>(Clock::now() - t1).count();
  return out;
}

FleetMatch match_fleet(FleetSpec spec, const std::string& pool_id, double target_flop, int max_chips,
                       const Catalogs& catalogs) {
  auto it = std::find_if(spec.pools.begin(), spec.pools.end(), [&](const FleetPool& p) { return p.id == pool_id; });
  if (it == spec.pools.end()) throw ModelError(fmt::format("no pool \"{}\" in {}", pool_id, spec.file));
  const std::size_t p = static_cast<std::size_t>(it - spec.pools.begin());
  const int unit = spec.pools[p].node.chip_count();
  // The site is no limit in the search: its capacity becomes what every node of the largest size would draw.
  auto& site = spec.sites[spec.pools[p].site];
  FleetMatch out;
  std::map<std::string, JobSizing> cache;  // sizes do not depend on the pool's size here: shared by every try
  FleetOptions options;
  options.cache = &cache;
  const auto run = [&](int nodes) {
    spec.pools[p].chips = nodes * unit;
    site.power_capacity_w =
        10.0 * nodes * node_facility_power_w(spec.pools[p].chip, spec.pools[p].node, site.pue, catalogs.assumptions) +
        1e9;
    ++out.simulations;
    return simulate_fleet(spec, catalogs, options);
  };
  // Doubling, then bisecting between the last size that fell short and the first that delivered the target.
  int lo = 0;
  int hi = 1;
  FleetResult best = run(hi);
  while (best.flop < target_flop) {
    lo = hi;
    hi *= 2;
    if (static_cast<long>(hi) * unit > max_chips) {
      throw ModelError(
          fmt::format("{} chips of pool \"{}\" do not deliver {:.3g} FLOP", max_chips, pool_id, target_flop));
    }
    best = run(hi);
  }
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    auto r = run(mid);
    if (r.flop >= target_flop) {
      hi = mid;
      best = std::move(r);
    } else {
      lo = mid;
    }
  }
  out.chips = hi * unit;
  out.result = std::move(best);
  return out;
}

nlohmann::json fleet_result_to_json(const FleetResult& r) {
  const auto series = [](const std::vector<FleetPoint>& points) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& p : points) a.push_back({p.t_days, p.value});
    return a;
  };
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& j : r.jobs) {
    nlohmann::json o = {{"name", j.name},
                        {"kind", j.kind == FleetJobKind::training ? "training" : "serving"},
                        {"status", std::string(to_string(j.status))},
                        {"priority", j.priority},
                        {"arrival_days", j.arrival_days},
                        {j.kind == FleetJobKind::training ? "tokens" : "output_tokens_per_day", j.tokens}};
    if (j.status == FleetJobStatus::unscheduled) {
      o["reason"] = j.reason;
    } else {
      o["pool"] = j.pool;
      o["chip"] = j.chip;
      o["chips"] = j.chips;
      o["plan"] = j.plan;
      o["start_days"] = j.start_days;
      o["finish_days"] = j.finish_days;
      if (r.start_date) {
        o["start_date"] = date_after(*r.start_date, j.start_days);
        o["finish_date"] = date_after(*r.start_date, j.finish_days);
      }
      o["power_mw"] = j.power_mw;
      o["energy_mwh"] = j.energy_mwh;
      o["cost_usd"] = j.cost_usd;
      o["flop"] = j.flop;
    }
    if (j.deadline_days) o["deadline_days"] = *j.deadline_days;
    if (j.deadline_met) o["deadline_met"] = *j.deadline_met;
    jobs.push_back(o);
  }
  nlohmann::json pools = nlohmann::json::array();
  for (const auto& p : r.pools) {
    pools.push_back({{"id", p.id},
                     {"site", p.site},
                     {"chip", p.chip},
                     {"chips", p.chips},
                     {"utilisation", p.utilisation},
                     {"flop", p.flop},
                     {"energy_mwh", p.energy_mwh},
                     {"held_cost_usd", p.held_cost_usd},
                     {"busy_chips", series(p.busy_chips)}});
  }
  nlohmann::json sites = nlohmann::json::array();
  for (const auto& s : r.sites) {
    sites.push_back({{"id", s.id},
                     {"capacity_mw", s.capacity_mw},
                     {"peak_mw", s.peak_mw},
                     {"energy_mwh", s.energy_mwh},
                     {"power_mw", series(s.power_mw)}});
  }
  nlohmann::json out = {
      {"name", r.name},
      {"file", r.file},
      {"horizon_days", r.horizon_days},
      {"seed", r.seed},
      {"jobs", jobs},
      {"pools", pools},
      {"sites", sites},
      {"flop", r.flop},
      {"flop_per_s_years", r.flop_per_s_years},
      {"energy_mwh", r.energy_mwh},
      {"electricity_usd", r.electricity_usd},
      {"held_cost_usd", r.held_cost_usd},
      {"job_cost_usd", r.job_cost_usd},
      {"training_jobs_finished", r.jobs_finished},
      {"events", r.events},
      {"series_note", "busy_chips and power_mw are step functions: [t_days, value] holds until the next point"}};
  if (r.start_date) out["start_date"] = *r.start_date;
  return out;
}

}  // namespace flopcast
