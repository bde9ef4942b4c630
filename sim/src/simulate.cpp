#include "flopcast/sim/simulate.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/human_units.hpp"
#include "step_sim.hpp"

namespace flopcast {

std::string_view to_string(Tier tier) {
  switch (tier) {
    case Tier::analytical: return "analytical";
    case Tier::replica: return "replica";
    case Tier::full: return "full";
  }
  return "?";
}

std::optional<Tier> parse_tier(std::string_view name) {
  for (Tier tier : {Tier::analytical, Tier::replica, Tier::full}) {
    if (name == to_string(tier)) return tier;
  }
  return std::nullopt;
}

namespace {

// The micro-batches of one step as the budget counts them (global batch / (dp x micro-batch), before rounding).
double simulation_micro_batches(const TrainingJob& job) {
  return static_cast<double>(job.training.global_batch) / (static_cast<double>(job.plan.dp) * job.plan.micro_batch);
}

}  // namespace

double expected_simulation_s(const TrainingJob& job, Tier tier) {
  constexpr double kSecondsPerUnit = 130e-6;
  if (tier == Tier::analytical) return 0.0;
  return kSecondsPerUnit * simulation_micro_batches(job) * (job.model.layers + job.model.mtp_modules) *
         (tier == Tier::full ? static_cast<double>(job.cluster.chips) / job.plan.pp : 1.0);
}

SimResult simulate_training(const TrainingJob& job, const Assumptions& assumptions, const SimOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  SimResult result;
  result.tier = options.tier;
  if (options.tier == Tier::analytical) {
    result.estimate = estimate_training(job, assumptions, EstimateOptions{options.overlap});
    result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
  }
  const auto& plan = job.plan;
  if (options.tier == Tier::full && job.cluster.chips > options.max_full_chips) {
    throw ModelError(fmt::format("tier full simulates every chip; {} chips is more than its limit of {} (use tier "
                                 "replica)",
                                 job.cluster.chips, options.max_full_chips));
  }
  if (const double expected = expected_simulation_s(job, options.tier);
      options.max_expected_s > 0 && expected > options.max_expected_s) {
    throw ModelError(fmt::format(
        "tier {} would simulate for about {} here ({:.0f} micro-batches x {} layers{}), more than the {} allowed; "
        "raise the limit (flopcast run --max-minutes) or use tier analytical, which answers at once",
        to_string(options.tier), human::seconds(expected), simulation_micro_batches(job),
        job.model.layers + job.model.mtp_modules,
        options.tier == Tier::full ? fmt::format(" x {} chips per stage", job.cluster.chips / plan.pp) : "",
        human::seconds(options.max_expected_s)));
  }
  TrainingEstimate estimate = prepare_estimate(job);
  std::vector<StepWork> works = build_stage_works(job, estimate.topology, assumptions);
  const auto schedule =
      make_schedule(plan.schedule, plan.pp, plan.vpp, estimate.micro_batches, plan.ep_comm_overlap);
  const sim_detail::StepInput input{job, estimate.topology, std::move(works), schedule, options};
  const auto output = sim_detail::decode(
      sim_detail::run_in_engine([&input] { return sim_detail::encode(sim_detail::simulate_step(input)); },
                                options.cancel, options.progress));

  estimate.breakdown = output.breakdown;
  estimate.step_time_s = output.step_s;
  complete_estimate(estimate, job, assumptions);
  result.estimate = std::move(estimate);
  result.devices = output.devices;
  result.busiest_links = output.busiest_links;
  result.trace = output.trace;
  result.simulated_activities = output.activities;
  result.engine_settings = sim_detail::engine_settings();
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

void write_chrome_trace(const SimResult& result, const std::string& path) {
  using nlohmann::json;
  json events = json::array();
  // One process per simulated device, one thread per stream, named so the viewers show them.
  const std::vector<std::string> streams = {"compute", "tp", "cp", "ep", "pp", "dp"};
  std::vector<int> devices;
  for (const auto& e : result.trace) {
    if (std::find(devices.begin(), devices.end(), e.device) == devices.end()) devices.push_back(e.device);
  }
  for (int device : devices) {
    const std::string name = device < static_cast<int>(result.devices.size()) ? result.devices[device].name
                                                                                : fmt::format("device {}", device);
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", device}, {"tid", 0}, {"args", {{"name", name}}}});
    events.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", device}, {"tid", 0},
                      {"args", {{"sort_index", device}}}});
    for (std::size_t s = 0; s < streams.size(); ++s) {
      events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", device}, {"tid", s},
                        {"args", {{"name", streams[s]}}}});
    }
  }
  for (const auto& e : result.trace) {
    const auto tid = std::find(streams.begin(), streams.end(), e.stream) - streams.begin();
    events.push_back({{"ph", "X"},
                      {"name", e.name},
                      {"cat", e.stream},
                      {"pid", e.device},
                      {"tid", tid},
                      {"ts", e.start_s * 1e6},
                      {"dur", (e.end_s - e.start_s) * 1e6}});
  }
  json trace = {{"traceEvents", std::move(events)},
                {"displayTimeUnit", "ms"},
                {"otherData",
                 {{"generator", "flopcast"},
                  {"tier", std::string(to_string(result.tier))},
                  {"step_time_s", result.estimate.step_time_s}}}};
  write_file_atomic(path, trace.dump());
}

}  // namespace flopcast
