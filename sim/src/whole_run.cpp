#include "flopcast/sim/whole_run.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/units.hpp"

namespace flopcast {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// SplitMix64 (Steele, Lea and Flood 2014): a small, fast generator whose output is the same on every platform, unlike
// the standard library's distributions. Each draw gets its own stream from the seed and the draw number.
class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t draw) : state_(seed ^ (0x9E3779B97F4A7C15ULL * (draw + 1))) { next(); }

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1]: never 0, so its logarithm is finite.
  double uniform() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }
  double exponential(double mean) { return -std::log(uniform()) * mean; }

 private:
  std::uint64_t state_;
};

// A checkpoint interval as the job can take it: a whole number of steps, at least one.
double whole_steps(double interval_s, double step_s) {
  if (!(step_s > 0)) return interval_s;
  return std::max(1.0, std::round(interval_s / step_s)) * step_s;
}

struct Rates {
  double total_per_s = 0;
  double node_share = 0;  // share of failures that send a node to repair
};

Rates rates_of(const std::vector<JobFailureRate>& failures) {
  Rates r;
  double node = 0;
  for (const auto& f : failures) {
    r.total_per_s += f.failures_per_s;
    if (f.replaces_node) node += f.failures_per_s;
  }
  r.node_share = r.total_per_s > 0 ? node / r.total_per_s : 0.0;
  return r;
}

// The job cannot finish when a checkpoint interval almost never completes between failures.
constexpr double kMaxFailuresPerSegment = 20.0;  // rate x (interval + write): e^20 restarts per completed segment
constexpr double kMaxFailuresPerRun = 1e7;

void check_feasible(const WholeRunSetup& setup, double rate_per_s, double interval_s) {
  if (rate_per_s * (interval_s + setup.checkpoint_write_s) > kMaxFailuresPerSegment) {
    throw ModelError(fmt::format("failures come too often for the run to finish: MTBF {:.3g} s against a checkpoint "
                                 "interval of {:.3g} s plus a {:.3g} s write",
                                 1.0 / rate_per_s, interval_s, setup.checkpoint_write_s));
  }
}

// Nodes away for repair, by the time each comes back.
using RepairQueue = std::priority_queue<double, std::vector<double>, std::greater<>>;

// When the job can run again after a failure at `now_s`: at once while spares cover every node away, else when
// enough repaired nodes have come back.
double ready_after_repairs(RepairQueue& away, double now_s, int spares) {
  while (!away.empty() && away.top() <= now_s) away.pop();
  double ready_s = now_s;
  while (static_cast<int>(away.size()) > spares) {
    ready_s = std::max(ready_s, away.top());
    away.pop();
  }
  return ready_s;
}

double percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const auto above = std::min(below + 1, sorted.size() - 1);
  const double weight = position - static_cast<double>(below);
  return sorted[below] * (1.0 - weight) + sorted[above] * weight;
}

// Standard normal upper tail, P(Z > z).
double normal_upper_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

}  // namespace

double checkpoint_bytes(double parameters, double bytes_per_param) { return parameters * bytes_per_param; }

double transfer_time_s(double bytes, double bytes_per_s) { return bytes_per_s > 0 ? bytes / bytes_per_s : kInfinity; }

double young_daly_interval_s(double checkpoint_write_s, double mtbf_s) {
  // Young, "A first order approximation to the optimum checkpoint interval", CACM 17(9), 1974; Daly, "A higher
  // order estimate of the optimum checkpoint interval for restart dumps", FGCS 22(3), 2006: the waste per unit of
  // time, write / interval + interval / (2 MTBF), is least at sqrt(2 write MTBF).
  return std::sqrt(2.0 * checkpoint_write_s * mtbf_s);
}

double expected_straggler_slowdown(double chips, const StragglerModel& model) {
  const double p = model.slow_fraction;
  const double f = model.slow_factor;
  const double sigma = model.jitter_sigma;
  // P(at least one slow chip among n) = 1 - (1 - p)^n, written to stay exact for tiny p and large n.
  const double any_slow = -std::expm1(chips * std::log1p(-p));
  if (sigma <= 0) return 1.0 + (f - 1.0) * any_slow;
  // Each chip's factor X has the CDF G(y) = (1 - p) Phi(ln y / sigma) + p Phi(ln(y / f) / sigma); the slowest of n
  // independent chips has G^n, and E[max] = integral over y > 0 of (1 - G(y)^n). With y = e^x the integrand is
  // (1 - G^n) e^x; below x_low G^n is nil and the tail integrates to e^x_low exactly. Simpson's rule on the rest.
  const double log_f = std::log(f);
  const double x_low = -12.0 * sigma;
  const double x_high = log_f + 12.0 * sigma;
  const auto integrand = [&](double x) {
    const double above = (1.0 - p) * normal_upper_tail(x / sigma) + p * normal_upper_tail((x - log_f) / sigma);
    const double max_above = -std::expm1(chips * std::log1p(-std::min(above, 1.0 - 1e-300)));  // 1 - G^n
    return max_above * std::exp(x);
  };
  constexpr int kIntervals = 4000;  // even; the integrand is smooth on a scale of sigma / 300
  const double h = (x_high - x_low) / kIntervals;
  double sum = integrand(x_low) + integrand(x_high);
  for (int i = 1; i < kIntervals; ++i) sum += (i % 2 == 1 ? 4.0 : 2.0) * integrand(x_low + i * h);
  return std::exp(x_low) + sum * h / 3.0;
}

std::vector<JobFailureRate> job_failure_rates(const FailureData& data, double chips, double nodes) {
  std::vector<JobFailureRate> out;
  for (const auto& c : data.components) {
    const double units = c.scope == FailureScope::chip ? chips : nodes;
    out.push_back({c.id, c.label, c.failures_per_unit_hour * units / kSecondsPerHour, c.replaces_node});
  }
  return out;
}

RunOutcome simulate_run(const WholeRunSetup& setup, double interval_s, std::uint64_t draw) {
  const Rates rates = rates_of(setup.failures);
  const double tau = whole_steps(interval_s, setup.step_time_s * setup.straggler_slowdown);
  const double write = setup.checkpoint_write_s;
  const double mean_to_failure = rates.total_per_s > 0 ? 1.0 / rates.total_per_s : kInfinity;
  Stream stream(setup.seed, draw);
  RepairQueue away;
  RunOutcome out;
  out.computing_s = setup.work_s * setup.straggler_slowdown;
  double remaining = out.computing_s;
  double wall = 0;
  while (true) {
    // From this (re)start, without a failure: every segment but the last ends with a checkpoint write.
    const double segments = std::ceil(remaining / tau);
    const double finish = remaining + std::max(0.0, segments - 1.0) * write;
    // Three numbers per failure, drawn whether used or not, so failure k sees the same ones in every variant.
    const double to_failure = rates.total_per_s > 0 ? stream.exponential(mean_to_failure) : kInfinity;
    if (to_failure >= finish) {
      wall += finish;
      out.checkpoint_s += std::max(0.0, segments - 1.0) * write;
      break;
    }
    const bool replaces_node = stream.uniform() <= rates.node_share;
    const double repair = stream.exponential(setup.repair_s);
    // Completed segments (computing + write) are saved; the segment the failure hit is lost.
    const double done = std::floor(to_failure / (tau + write));
    const double into_segment = to_failure - done * (tau + write);
    remaining -= done * tau;
    out.checkpoint_s += done * write + std::max(0.0, into_segment - tau);
    out.recomputed_s += std::min(into_segment, tau);
    wall += to_failure;
    out.failures += 1;
    if (replaces_node) away.push(wall + repair);
    const double ready = ready_after_repairs(away, wall, setup.hot_spare_nodes);
    out.repair_wait_s += ready - wall;
    out.restart_s += setup.restart_s + setup.checkpoint_load_s;
    wall = ready + setup.restart_s + setup.checkpoint_load_s;
    if (out.failures > kMaxFailuresPerRun) {
      throw ModelError(fmt::format("more than {:g} failures in one run: the job cannot finish", kMaxFailuresPerRun));
    }
  }
  out.wall_s = wall;
  return out;
}

RunStatistics simulate_runs(const WholeRunSetup& setup, double interval_s) {
  const Rates rates = rates_of(setup.failures);
  RunStatistics stats;
  stats.interval_s = whole_steps(interval_s, setup.step_time_s * setup.straggler_slowdown);
  check_feasible(setup, rates.total_per_s, stats.interval_s);
  const int draws = std::max(1, setup.draws);
  std::vector<double> walls;
  walls.reserve(static_cast<std::size_t>(draws));
  auto& m = stats.mean;
  for (int d = 0; d < draws; ++d) {
    const auto run = simulate_run(setup, stats.interval_s, static_cast<std::uint64_t>(d));
    walls.push_back(run.wall_s);
    m.wall_s += run.wall_s;
    m.computing_s += run.computing_s;
    m.recomputed_s += run.recomputed_s;
    m.checkpoint_s += run.checkpoint_s;
    m.restart_s += run.restart_s;
    m.repair_wait_s += run.repair_wait_s;
    m.failures += run.failures;
  }
  for (double* part : {&m.wall_s, &m.computing_s, &m.recomputed_s, &m.checkpoint_s, &m.restart_s, &m.repair_wait_s,
                       &m.failures}) {
    *part /= draws;
  }
  std::sort(walls.begin(), walls.end());
  stats.p10_wall_s = percentile(walls, 0.1);
  stats.p50_wall_s = percentile(walls, 0.5);
  stats.p90_wall_s = percentile(walls, 0.9);
  return stats;
}

namespace {

// The interval (in the search's log space) at the vertex of the parabola through three neighbouring grid points,
// kept between the outer two.
double parabola_vertex(const IntervalPoint& a, const IntervalPoint& b, const IntervalPoint& c) {
  const double xa = std::log(a.interval_s), xb = std::log(b.interval_s), xc = std::log(c.interval_s);
  const double denominator = (xb - xa) * (b.mean_wall_s - c.mean_wall_s) - (xb - xc) * (b.mean_wall_s - a.mean_wall_s);
  if (denominator == 0) return b.interval_s;
  const double numerator = (xb - xa) * (xb - xa) * (b.mean_wall_s - c.mean_wall_s) -
                           (xb - xc) * (xb - xc) * (b.mean_wall_s - a.mean_wall_s);
  const double x = std::clamp(xb - 0.5 * numerator / denominator, xa, xc);
  return std::exp(x);
}

// Mean wall time over a grid from a quarter to four times `centre_s` (nine points per factor of four), skipping
// intervals at which the job could not finish, then the parabola's vertex through the best and its neighbours.
std::vector<IntervalPoint> search_intervals(const WholeRunSetup& setup, double centre_s, double rate_per_s,
                                            const std::function<void()>& check_cancel) {
  const double step = setup.step_time_s * setup.straggler_slowdown;
  const double longest = setup.work_s * setup.straggler_slowdown;
  std::vector<IntervalPoint> points;
  for (int k = -8; k <= 8; ++k) {
    const double interval = whole_steps(std::min(centre_s * std::exp2(k / 4.0), longest), step);
    if (!points.empty() && interval <= points.back().interval_s) continue;
    if (rate_per_s * (interval + setup.checkpoint_write_s) > kMaxFailuresPerSegment) continue;
    check_cancel();
    points.push_back({interval, simulate_runs(setup, interval).mean.wall_s});
  }
  if (points.size() < 3) return points;
  const auto best = std::min_element(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return a.mean_wall_s < b.mean_wall_s;
  });
  if (best == points.begin() || best + 1 == points.end()) return points;
  const double vertex = whole_steps(parabola_vertex(*(best - 1), *best, *(best + 1)), step);
  if (std::none_of(points.begin(), points.end(), [&](const auto& p) { return p.interval_s == vertex; })) {
    points.push_back({vertex, simulate_runs(setup, vertex).mean.wall_s});
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.interval_s < b.interval_s; });
  }
  return points;
}

}  // namespace

WholeRunResult simulate_whole_run(const WholeRunSetup& setup, const std::atomic<bool>* cancel) {
  // Checked before each batch of draws (one interval's, tens of milliseconds in a release build).
  const auto check_cancel = [cancel] {
    if (cancel != nullptr && cancel->load()) throw Cancelled("the simulation was cancelled");
  };
  WholeRunResult r;
  r.setup = setup;
  r.failures_per_s = rates_of(setup.failures).total_per_s;
  r.mtbf_s = r.failures_per_s > 0 ? 1.0 / r.failures_per_s : kInfinity;
  // Without failures no checkpoint is needed: every interval is infinite.
  r.young_daly_interval_s = r.failures_per_s > 0 ? young_daly_interval_s(setup.checkpoint_write_s, r.mtbf_s) : kInfinity;
  const double longest = r.failures_per_s > 0 ? setup.work_s * setup.straggler_slowdown : kInfinity;
  if (r.failures_per_s > 0) {
    // Young/Daly needs a write time; a free checkpoint makes every step one, so the grid centres on a step.
    const double centre = r.young_daly_interval_s > 0 ? r.young_daly_interval_s : setup.step_time_s;
    r.search = search_intervals(setup, centre, r.failures_per_s, check_cancel);
  }
  if (r.search.empty()) {
    // No failures (no checkpoint at all), or none of the grid could finish (the runs below say so).
    r.best_interval_s = longest;
  } else {
    r.best_interval_s = std::min_element(r.search.begin(), r.search.end(), [](const auto& a, const auto& b) {
                          return a.mean_wall_s < b.mean_wall_s;
                        })->interval_s;
  }
  r.interval_used_s = setup.checkpoint_interval_s.value_or(r.best_interval_s);
  check_cancel();
  r.runs = simulate_runs(setup, r.interval_used_s);
  r.interval_used_s = r.runs.interval_s;
  r.goodput = r.runs.mean.wall_s > 0 ? setup.work_s / r.runs.mean.wall_s : 1.0;
  r.lost_chip_hours = setup.chips * (r.runs.mean.wall_s - setup.work_s) / kSecondsPerHour;
  return r;
}

}  // namespace flopcast
