#pragma once
// The whole training run: failures, checkpoints, restarts, hot spares and stragglers, by Monte Carlo.
//
// One draw is one run of `work_s` seconds of computing, simulated by a hand-written event loop over failure times:
// the job computes `interval_s` seconds, stalls `checkpoint_write_s` to write a checkpoint, and so on; failures
// arrive as a Poisson process at the sum of the component rates (per chip or node, times the counts) while the job
// runs. A failure loses the work since the last completed checkpoint; the job restarts after `restart_s` plus the
// checkpoint load. A failure that takes its node out sends the node to repair (exponential, mean `repair_s`) and a
// hot spare takes its place; with no spare left the job waits for the first repaired node. A failure during a
// restart is folded into the restart (restarts are minutes, the job's MTBF hours).
//
// Each draw has its own random stream and failure k always uses the same three numbers of it (time to failure,
// whether the node is replaced, repair time), so runs that differ only in the checkpoint interval or the spares
// see the same failures (common random numbers): the interval search compares like with like, and more spares can
// never make a draw slower.
//
// All times in seconds of wall-clock time; rates in failures per second for the whole job.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "flopcast/models/failures.hpp"

namespace flopcast {

// Bytes of a resumable checkpoint: every parameter times the bytes saved per parameter (weights and optimizer
// states). MTP modules count: they are trained and saved with the model.
double checkpoint_bytes(double parameters, double bytes_per_param);
// Time to move `bytes` at `bytes_per_s` (a checkpoint written to or read from storage).
double transfer_time_s(double bytes, double bytes_per_s);
// Young (1974) / Daly (2006) first-order optimum checkpoint interval: sqrt(2 x checkpoint write time x MTBF).
double young_daly_interval_s(double checkpoint_write_s, double mtbf_s);
// The expected slowdown of a synchronous step over `chips` participants: E[max over chips of each one's time
// factor] under `model` (>= 1 when no chip is faster than nominal; 1 with no slow chips and no jitter).
double expected_straggler_slowdown(double chips, const StragglerModel& model);

// One component's failures for the whole job.
struct JobFailureRate {
  std::string id;
  std::string label;
  double failures_per_s = 0;
  bool replaces_node = true;
};
// Each component's rate times the job's chip or node count.
std::vector<JobFailureRate> job_failure_rates(const FailureData& data, double chips, double nodes);

struct WholeRunSetup {
  double work_s = 0;                 // failure-free computing time to train every token (steps x step time)
  double step_time_s = 1;            // checkpoints fall between steps: an interval is a whole number of steps
  double straggler_slowdown = 1;     // every step takes this much longer than step_time_s (stragglers)
  double chips = 1;                  // chips the job holds (for lost chip-hours)
  std::vector<JobFailureRate> failures;
  double checkpoint_write_s = 0;     // the job stalls while a checkpoint is written
  double checkpoint_load_s = 0;      // read back after every restart
  double restart_s = 0;              // detect, reschedule, re-initialise (before the load)
  double repair_s = 0;               // mean time a failed node is away
  int hot_spare_nodes = 0;
  std::optional<double> checkpoint_interval_s;  // computing time between checkpoints; none: the best found
  int draws = 1000;
  std::uint64_t seed = 1;
  double checkpoint_bytes = 0;       // for the record: what one write or load moves
};

// One run, in seconds of wall time: computing (work x slowdown), redone work, checkpoint writes, restarts and
// loads, and waits for repair add up to wall_s.
struct RunOutcome {
  double wall_s = 0;
  double computing_s = 0;    // the run's own work at the straggler-slowed pace
  double recomputed_s = 0;   // work lost at failures and done again
  double checkpoint_s = 0;   // writing checkpoints
  double restart_s = 0;      // restarts and checkpoint loads
  double repair_wait_s = 0;  // no spare left: waiting for a repaired node
  double failures = 0;
};

// Draw number `draw` of the run with checkpoints every `interval_s` of computing (rounded to whole steps).
RunOutcome simulate_run(const WholeRunSetup& setup, double interval_s, std::uint64_t draw);

struct RunStatistics {
  double interval_s = 0;  // as used: a whole number of steps
  double p10_wall_s = 0;
  double p50_wall_s = 0;
  double p90_wall_s = 0;
  RunOutcome mean;        // each part averaged over the draws
};
// setup.draws runs at one interval.
RunStatistics simulate_runs(const WholeRunSetup& setup, double interval_s);

struct IntervalPoint {
  double interval_s = 0;
  double mean_wall_s = 0;
};

struct WholeRunResult {
  double failures_per_s = 0;            // the job's total rate
  double mtbf_s = 0;                    // 1 / rate (infinite without failures)
  double young_daly_interval_s = 0;     // sqrt(2 x write x MTBF) (infinite without failures)
  double best_interval_s = 0;           // the interval with the least mean wall time in the search
  double interval_used_s = 0;           // the setup's interval, or the best
  std::vector<IntervalPoint> search;    // every interval tried, in increasing order
  RunStatistics runs;                   // at the interval used
  double goodput = 1;                   // work_s / mean wall time: the share of wall time that trains the model
  double lost_chip_hours = 0;           // chips x (mean wall time - work_s) / 3600
  WholeRunSetup setup;                  // what was simulated
};

// The search over checkpoint intervals (a log-spaced grid from a quarter to four times Young/Daly, refined by a
// parabola through the best three) and the runs at the interval used. Throws ModelError when failures come too
// often for the job ever to finish.
// With `cancel` set (from another thread) the search stops before its next batch of draws: Cancelled is thrown.
WholeRunResult simulate_whole_run(const WholeRunSetup& setup, const std::atomic<bool>* cancel = nullptr);

}  // namespace flopcast
