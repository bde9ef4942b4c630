#pragma once
// Tiers 2 and 3: one training step simulated event by event on SimGrid.
//
// Tier 2 (replica): one device per pipeline stage, its TP / CP / EP / DP peers folded in by symmetry: a device's
// collectives run as flows on its own scale-up and scale-out links, which the streams of that device share.
// Tier 3 (full): every chip a host, every collective step a flow from each member to its ring neighbour through the
// node's scale-up fabric or the NIC rails and leaf / spine switches, so a slow chip or link holds up its groups.
//
// Each device runs a compute stream (an actor walking the pipeline schedule, layer by layer) and communication
// streams for TP, CP, EP, PP and DP (actors serving queues of collectives). SimGrid runs in a child process per
// simulation (its engine can be created once per process); the parent gets the result back.

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flopcast/models/estimator.hpp"
#include "flopcast/sim/whole_run.hpp"

namespace flopcast {

enum class Tier { analytical, replica, full };
std::string_view to_string(Tier tier);
std::optional<Tier> parse_tier(std::string_view name);

// A chip that runs slower than the rest: its compute takes `compute_factor` times as long, its links carry data at
// 1 / `link_factor` of their rate. Tier 2 applies it to a whole stage's representative; tier 3 to one chip.
struct Straggler {
  int device = 0;  // tier 2: pipeline stage; tier 3: chip rank (tp fastest, then cp, dp, pp)
  double compute_factor = 1.0;
  double link_factor = 1.0;
};

// The wall time a tier-2 or tier-3 simulation of `job` is expected to take on one core, from its size: the step's
// micro-batches x its layers (MTP modules included) x the chips simulated per pipeline stage (tier 2: one; tier 3:
// all of them). About 130 us per unit, measured on the 2-core CI machine's release build: Llama 3.1 405B at tier 2,
// 16 to 1,600 micro-batches x 126 layers, 0.6 to 26 s; Llama 3 70B at tier 3 on 1,024 H100, 16 x 80 x 256, 35-65 s.
double expected_simulation_s(const TrainingJob& job, Tier tier);

struct SimOptions {
  Tier tier = Tier::replica;
  // Off: every collective blocks the compute stream and pipeline sends are synchronous. On: what the plan overlaps
  // (TP overlap, dp_overlap, and pipeline sends in the interleaved and DualPipe schedules) runs beside the compute.
  bool overlap = true;
  bool contention = true;  // off: each communication kind gets links of its own
  // Off: every transfer is simulated as flows, even on links nothing else uses at the time, where the simulation
  // otherwise waits out its known time at once (the same result, with fewer activities; the reference for tests).
  bool lone_link_waits = true;
  std::vector<Straggler> stragglers;
  bool record_trace = false;
  int max_full_chips = 1024;  // tier 3 refuses larger clusters
  // Tiers 2 and 3 refuse a simulation expected to take longer (expected_simulation_s); 0: no limit.
  double max_expected_s = 600;
  int busiest_links = 10;     // links reported, busiest first
  bool whole_run = true;      // scenarios with failures enabled: also simulate the whole run (the planner skips it)
  // Set from another thread to stop a discrete-event simulation: its engine process is killed and Cancelled
  // (core/errors.hpp) is thrown. Null: it cannot be cancelled. The caller keeps the flag alive during the call.
  const std::atomic<bool>* cancel = nullptr;
  // Called on the calling thread, about every 50 ms while a discrete-event simulation runs, with the fraction done
  // (tier 2 and 3: the pipeline operations simulated, over every device). Empty: none.
  std::function<void(double)> progress;
};

// Where one device's step went, in seconds; `compute_s` + the exposed waits + `bubble_s` + `idle_s` = the step.
struct DeviceActivity {
  std::string name;
  double compute_s = 0;      // kernels (and per-layer overheads) on the compute stream
  double exposed_tp_s = 0;   // compute stream blocked on each communication kind
  double exposed_cp_s = 0;
  double exposed_ep_s = 0;
  double exposed_pp_s = 0;
  double exposed_dp_s = 0;
  double bubble_s = 0;       // waiting for a pipeline neighbour's activations or gradients
  double optimizer_s = 0;
  double idle_s = 0;         // finished early, waiting for the step to end
  double busy_tp_s = 0;      // time each communication stream was busy, hidden or not
  double busy_cp_s = 0;
  double busy_ep_s = 0;
  double busy_pp_s = 0;
  double busy_dp_s = 0;
};

struct LinkLoad {
  std::string name;
  double bytes_per_s = 0;
  double bytes = 0;        // carried during the step
  double utilisation = 0;  // bytes / (bytes_per_s x step time)
};

struct TraceEvent {
  int device = 0;
  std::string stream;  // compute, tp, cp, ep, pp, dp
  std::string name;
  double start_s = 0;
  double end_s = 0;
};

struct SimResult {
  Tier tier = Tier::replica;
  TrainingEstimate estimate;
  std::vector<DeviceActivity> devices;
  std::vector<LinkLoad> busiest_links;  // SimOptions::busiest_links at most, busiest first
  std::vector<TraceEvent> trace;
  std::vector<std::string> engine_settings;  // every SimGrid flag set, for the results' assumptions
  long simulated_activities = 0;
  double wall_s = 0;
  std::optional<WholeRunResult> whole_run;  // failures, checkpoints and restarts over the run, when simulated
};

// The whole run of `result`, or null when none was simulated (for prediction_intervals).
inline const WholeRunResult* whole_run_of(const SimResult& result) {
  return result.whole_run ? &*result.whole_run : nullptr;
}

// Tier 1 wrapped as a SimResult (no devices, links or trace), so callers can treat the tiers alike.
SimResult simulate_training(const TrainingJob& job, const Assumptions& assumptions, const SimOptions& options);

// Writes a Chrome / Perfetto trace (JSON object format, microseconds, one track per stream per device) atomically.
void write_chrome_trace(const SimResult& result, const std::string& path);

}  // namespace flopcast
