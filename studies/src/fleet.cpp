// Fleet simulation (fleet.hpp): an event loop over arrivals and completions that allocates whole nodes under each
// site's power limit, to jobs sized by fleet_sizing.cpp; the fleet's series, totals and JSON.

#include "flopcast/studies/fleet.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <tuple>

#include "fleet_sizing.hpp"

namespace flopcast {

using fleet_detail::kPowerSlack;
using fleet_detail::mixed_placements;
using fleet_detail::Placement;

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kSecondsPerYear = kHoursPerYear * kSecondsPerHour;  // 365.25 days: FLOP/s-years

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
