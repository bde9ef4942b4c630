#include "flopcast/scenarios/whole_run.hpp"

#include <cmath>

#include "flopcast/models/energy_cost.hpp"

namespace flopcast {

WholeRunSetup whole_run_setup(const Scenario& scenario, const TrainingEstimate& estimate, const Catalogs& catalogs) {
  const auto& settings = *scenario.failures;
  const auto& cluster = scenario.job.cluster;
  WholeRunSetup setup;
  setup.work_s = estimate.steps * estimate.step_time_s;
  setup.step_time_s = estimate.step_time_s;
  setup.chips = cluster.chips;
  if (settings.stragglers) setup.straggler_slowdown = expected_straggler_slowdown(cluster.chips, *settings.stragglers);
  setup.failures = job_failure_rates(catalogs.failures, cluster.chips, cluster.nodes);
  for (auto& f : setup.failures) f.failures_per_s *= settings.failure_rate_factor;
  setup.checkpoint_bytes = checkpoint_bytes(estimate.params.total + estimate.params.mtp_total,
                                            settings.checkpoint_bytes_per_param);
  setup.checkpoint_write_s = transfer_time_s(setup.checkpoint_bytes, settings.storage_bytes_per_s);
  setup.checkpoint_load_s = setup.checkpoint_write_s;  // the same bytes over the same storage
  setup.restart_s = settings.restart_s;
  setup.repair_s = settings.repair_s;
  setup.hot_spare_nodes = settings.hot_spare_nodes;
  setup.checkpoint_interval_s = settings.checkpoint_interval_s;
  setup.draws = settings.draws;
  setup.seed = settings.seed;
  return setup;
}

void apply_whole_run(TrainingEstimate& e, const Scenario& scenario, const WholeRunResult& run,
                     const Catalogs& catalogs) {
  const auto& job = scenario.job;
  const double chips = job.cluster.chips;
  const double spare_chips = static_cast<double>(run.setup.hot_spare_nodes) * job.cluster.node.chip_count();
  e.train_s = run.runs.p50_wall_s;
  e.train_days = e.train_s / kSecondsPerDay;
  e.chip_hours = (chips + spare_chips) * e.train_s / kSecondsPerHour;
  e.energy_cost = energy_and_cost(job, e.topology, e.train_s, job.training.tokens, catalogs.assumptions);
  auto& ec = e.energy_cost;
  const double spare_share = spare_chips / chips;
  if (job.costs.mode == CostMode::rental) {
    ec.cost_usd *= 1.0 + spare_share;
  } else {
    const double spare_capex = ec.capex_usd * spare_share;
    ec.capex_usd += spare_capex;
    ec.cost_usd += spare_capex / (job.costs.depreciation_years * kHoursPerYear) * (e.train_s / kSecondsPerHour);
  }
  ec.usd_per_mtok = job.training.tokens > 0 ? ec.cost_usd / (job.training.tokens / 1e6) : 0.0;
}

namespace {

nlohmann::json finite_or_null(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(); }

}  // namespace

nlohmann::json whole_run_to_json(const WholeRunResult& run) {
  const auto& s = run.setup;
  const auto& m = run.runs.mean;
  nlohmann::json search = nlohmann::json::array();
  for (const auto& p : run.search) search.push_back({{"interval_s", p.interval_s}, {"mean_wall_s", p.mean_wall_s}});
  nlohmann::json components = nlohmann::json::array();
  const double total = run.failures_per_s;
  for (const auto& f : s.failures) {
    components.push_back({{"id", f.id},
                          {"label", f.label},
                          {"failures_per_s", f.failures_per_s},
                          {"replaces_node", f.replaces_node},
                          {"expected_failures", total > 0 ? m.failures * f.failures_per_s / total : 0.0}});
  }
  return {{"wall_days_p10", run.runs.p10_wall_s / kSecondsPerDay},
          {"wall_days_p50", run.runs.p50_wall_s / kSecondsPerDay},
          {"wall_days_p90", run.runs.p90_wall_s / kSecondsPerDay},
          {"wall_days_mean", m.wall_s / kSecondsPerDay},
          {"failure_free_days", s.work_s / kSecondsPerDay},
          {"goodput", run.goodput},
          {"lost_chip_hours", run.lost_chip_hours},
          {"failures_mean", m.failures},
          {"job_failures_per_s", run.failures_per_s},
          {"job_mtbf_s", finite_or_null(run.mtbf_s)},
          {"checkpoint_bytes", s.checkpoint_bytes},
          {"checkpoint_write_s", s.checkpoint_write_s},
          {"checkpoint_load_s", s.checkpoint_load_s},
          {"restart_s", s.restart_s},
          {"repair_s", s.repair_s},
          {"hot_spare_nodes", s.hot_spare_nodes},
          {"straggler_slowdown", s.straggler_slowdown},
          {"checkpoint_interval_s", finite_or_null(run.interval_used_s)},
          {"checkpoint_interval_given", s.checkpoint_interval_s.has_value()},
          {"best_interval_s", finite_or_null(run.best_interval_s)},
          {"young_daly_interval_s", finite_or_null(run.young_daly_interval_s)},
          {"interval_search", search},
          {"mean_split_s",
           {{"computing", m.computing_s},
            {"recomputed", m.recomputed_s},
            {"checkpoint_writes", m.checkpoint_s},
            {"restarts_and_loads", m.restart_s},
            {"repair_waits", m.repair_wait_s}}},
          {"components", components},
          {"draws", s.draws},
          {"seed", s.seed},
          {"method",
           "Monte Carlo over runs: Poisson failures at the sum of the component rates while the job runs; work since "
           "the last checkpoint lost; restart + checkpoint load; a node-replacing failure uses a hot spare or waits "
           "for a repair; the best interval by search on common random numbers, against Young (1974) / Daly (2006) "
           "sqrt(2 x write x MTBF)"}};
}

}  // namespace flopcast
