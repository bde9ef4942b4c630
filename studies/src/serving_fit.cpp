#include "flopcast/studies/serving_fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "flopcast/scenarios/serving_scenario.hpp"
#include "flopcast/studies/validation.hpp"
#include "flopcast/sim/serve_sim.hpp"

namespace flopcast {

namespace {

bool same(const ServingOverheads& a, const ServingOverheads& b) {
  return std::abs(a.per_step_s - b.per_step_s) < 1e-12 && std::abs(a.per_layer_s - b.per_layer_s) < 1e-15 &&
         std::abs(a.expert_load_cv - b.expert_load_cv) < 1e-12;
}

ServingOverheads in_use_of(const Assumptions& a) {
  return {a.serving_per_step_overhead_s, a.serving_per_layer_overhead_s, a.serving_synthetic_expert_load_cv};
}

// Mean |log error| of the runs `use` admits, at grid point `point`.
template <typename Use>
double mean_abs_log_error(const ServingFit& fit, std::size_t point, Use use) {
  double sum = 0;
  std::size_t n = 0;
  for (const auto& r : fit.runs) {
    if (!r.failure.empty() || !use(r)) continue;
    sum += std::abs(std::log(r.predicted[point] / r.published));
    ++n;
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

template <typename Use>
std::size_t best_point(const ServingFit& fit, Use use) {
  std::size_t best = 0;
  double least = std::numeric_limits<double>::infinity();
  for (std::size_t p = 0; p < fit.grid.size(); ++p) {
    const double e = mean_abs_log_error(fit, p, use);
    if (e < least) {
      least = e;
      best = p;
    }
  }
  return best;
}

// The nearest-rank 80th percentile of |log errors|: at least 80 % of them lie at or below it, the half-width of a
// p10-p90 range that holds them.
double covering_error(std::vector<double> abs_log_errors) {
  if (abs_log_errors.empty()) return 0.0;
  std::sort(abs_log_errors.begin(), abs_log_errors.end());
  const auto n = abs_log_errors.size();
  const auto rank = static_cast<std::size_t>(std::ceil(0.8 * static_cast<double>(n)));
  return abs_log_errors[std::clamp<std::size_t>(rank, 1, n) - 1];
}

// That half-width for one kind of run (dense or MoE) outside `left_out`, each at the grid point `point` gives it;
// over every kind when no run of that kind is left (a kind published by one table only).
template <typename Point>
double slice_half_width(const ServingFit& fit, bool moe, const std::string& left_out, Point point) {
  std::vector<double> kind;
  std::vector<double> all;
  for (const auto& r : fit.runs) {
    if (!r.failure.empty() || r.group == left_out) continue;
    const double e = std::abs(r.log_error(point(r)));
    all.push_back(e);
    if (r.moe == moe) kind.push_back(e);
  }
  return covering_error(kind.empty() ? std::move(all) : std::move(kind));
}

template <typename Point>
ServingSpread spread_of(const ServingFit& fit, Point point) {
  ServingSpread out;
  out.log_sigma_dense = slice_half_width(fit, false, "", point) / kNormalZ90;
  out.log_sigma_moe = slice_half_width(fit, true, "", point) / kNormalZ90;
  std::size_t inside = 0;
  std::size_t counted = 0;
  for (const auto& r : fit.runs) {
    if (!r.failure.empty()) continue;
    inside += std::abs(r.log_error(point(r))) <= slice_half_width(fit, r.moe, r.group, point) ? 1 : 0;
    ++counted;
  }
  out.coverage = counted > 0 ? static_cast<double>(inside) / static_cast<double>(counted) : 0.0;
  return out;
}

}  // namespace

std::vector<ServingOverheads> serving_overhead_grid(const Assumptions& assumptions) {
  std::vector<ServingOverheads> grid;
  const ServingOverheads in_use = in_use_of(assumptions);
  const auto add = [&](const ServingOverheads& o) {
    if (std::none_of(grid.begin(), grid.end(), [&](const ServingOverheads& g) { return same(g, o); })) grid.push_back(o);
  };
  for (const double step_ms : {0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0}) {
    for (const double layer_us : {0.0, 5.0, 10.0, 20.0, 30.0, 50.0}) {
      add({step_ms * 1e-3, layer_us * 1e-6, in_use.expert_load_cv});
    }
  }
  for (const double cv : {0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0}) add({in_use.per_step_s, in_use.per_layer_s, cv});
  add(in_use);
  return grid;
}

double log_sigma_covering(std::vector<double> abs_log_errors) {
  return covering_error(std::move(abs_log_errors)) / kNormalZ90;
}

void choose_serving_fit(ServingFit& fit) {
  fit.best = best_point(fit, [](const ServingFitRun&) { return true; });
  std::map<std::string, std::size_t> fold;
  for (const auto& r : fit.runs) {
    if (!r.failure.empty() || fold.count(r.group)) continue;
    fold[r.group] = best_point(fit, [&](const ServingFitRun& other) { return other.group != r.group; });
  }
  for (auto& r : fit.runs) {
    if (r.failure.empty()) r.loso_point = fold[r.group];
  }
  fit.at_current = spread_of(fit, [&](const ServingFitRun&) { return fit.current; });
  fit.loso = spread_of(fit, [](const ServingFitRun& r) { return r.loso_point; });
}

ServingFit fit_serving(const std::vector<Scenario>& deployments, const Assumptions& assumptions,
                       const std::vector<ServingOverheads>& grid,
                       const std::function<void(std::size_t, std::size_t)>& progress) {
  ServingFit fit;
  fit.grid = grid;
  const ServingOverheads in_use = in_use_of(assumptions);
  for (std::size_t p = 0; p < grid.size(); ++p) {
    if (same(grid[p], in_use)) fit.current = p;
  }
  std::vector<std::size_t> used;
  for (std::size_t i = 0; i < deployments.size(); ++i) {
    const auto& s = deployments[i];
    if (s.serving && s.serving->published && !s.serving->published->lower_bound) used.push_back(i);
  }
  const std::size_t total = used.size() * grid.size();
  std::size_t done = 0;
  for (const std::size_t i : used) {
    const Scenario* s = &deployments[i];
    const auto& p = *s->serving->published;
    const ServingJob job = serving_job(*s);
    ServingFitRun run;
    run.deployment = i;
    run.run = p.run;
    run.group = p.source + " / " + s->model_ref;
    run.moe = job.model.is_moe();
    run.published = p.value;
    for (const auto& point : grid) {
      Assumptions a = assumptions;
      a.serving_per_step_overhead_s = point.per_step_s;
      a.serving_per_layer_overhead_s = point.per_layer_s;
      a.serving_synthetic_expert_load_cv = point.expert_load_cv;
      if (run.failure.empty()) {
        try {
          run.predicted.push_back(serving_metric(simulate_serving(job, a), p.metric));
        } catch (const ModelError& error) {
          run.failure = error.what();
        }
      }
      if (progress) progress(++done, total);
    }
    fit.runs.push_back(std::move(run));
  }
  choose_serving_fit(fit);
  return fit;
}

}  // namespace flopcast
