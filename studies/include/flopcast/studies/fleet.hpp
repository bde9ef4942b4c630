#pragma once
// Fleet planning (SCHEMA.md, "Fleet files"): an inventory of chip pools at power-limited sites and a portfolio of
// training runs and serving demand, simulated over a horizon (a year by default).
//
// Each job is sized on each pool that may run it with the same models `flopcast plan` and `flopcast serve --search`
// use (tier 1): a training job takes the planner's best plan at its chip count (or the fewest chips that meet its
// deadline), with the whole-run failure model when its scenario has a "failures" section; a serving job takes the
// serving search's best plan within its SLO, and as many instances as its tokens per day need. Sizes are cached per
// (job scenario, tokens, pool, chips), so a portfolio of repeated jobs is sized once.
//
// The simulation is a hand-written event loop over job arrivals and completions, not SimGrid: at this level jobs
// are rigid allocations of whole nodes with a known duration (failures are already in the duration, from the
// whole-run Monte Carlo), they share no links, and the only coupling is the count of free chips per pool and the
// power headroom per site. A loop over (time, kind, sequence) events is exact for that, deterministic, and runs a
// 200-job year in well under a millisecond; an engine with actors would add nothing but setup cost.
//
// Allocation policy (documented in SCHEMA.md): at every event time, completions first (they free chips and power),
// then arrivals join the queue; then the queue is walked in order of priority (higher first), arrival, then file
// order, and each job starts on the first pool it may use (its "pools" list in order, or every pool in file order)
// whose free chips hold its size and whose site has the power headroom for it (chips' facility power at the site's
// PUE). A job that cannot start waits; jobs behind it may start (first fit, no reservation). A job never spans two
// pools, so never two chip types, unless its scenario is itself a mixed fleet (cluster.stage_chips, run with its own
// plan): then it takes each chip type's chips from one pool of that type at one site, all at once.
// Units: SI inside (seconds, watts, joules); days, MW, MWh in the outputs.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flopcast/hardware/topology.hpp"
#include "flopcast/scenarios/scenario.hpp"

namespace flopcast {

struct FleetSite {
  std::string id;
  double power_capacity_w = 0;  // facility power the site can draw (its PUE included)
  double pue = 1.3;
};

struct FleetPool {
  std::string id;
  std::size_t site = 0;  // index into FleetSpec::sites
  Chip chip;
  Node node;                     // the chip's default node: the planner sizes jobs on it
  int chips = 0;                 // whole nodes
  double usd_per_chip_hour = 0;  // every chip-hour held, busy or idle (electricity included, reported apart)
  // The scale-out network training jobs run on: the node's default fabric unless given; the topology, when not
  // given, is a fat tree (two tiers, three when two cannot connect the job). A pool without a "network" runs a job
  // whose scenario names the pool's chip on the scenario's own network.
  Fabric fabric;
  std::optional<TopologyKind> topology;
  bool network_given = false;
};

enum class FleetJobKind { training, serving };

struct FleetJob {
  std::string name;
  FleetJobKind kind = FleetJobKind::training;
  Scenario scenario;         // the training or serving scenario the job runs
  std::string scenario_ref;  // as written in the fleet file
  double tokens = 0;         // training: tokens to train; serving: output tokens per day
  double arrival_s = 0;
  std::optional<double> deadline_s;  // training: finish by this time from the horizon's start
  int priority = 0;                  // higher starts first
  std::optional<int> chips;          // training: chips to use (rounded up to whole nodes of the pool)
  bool scenario_plan = false;        // training: the scenario's own plan and chips (pool chip must match)
  bool mixed = false;                // training: the scenario is a mixed fleet; one pool per chip type at a site
  std::optional<double> duration_s;  // serving: how long the chips are held (default: to the horizon's end)
  std::vector<std::size_t> pools;    // pools it may use, in order of preference
};

struct FleetSpec {
  std::string file;
  std::string name;
  std::string description;
  std::string question;  // the question the fleet file asks, in words
  double horizon_s = 365.0 * 86400.0;
  std::optional<std::string> start_date;  // "YYYY-MM-DD": dates beside days in the outputs
  std::uint64_t seed = 1;                 // replaces each job's failure seed
  double electricity_usd_per_kwh = 0.0806;
  std::vector<FleetSite> sites;
  std::vector<FleetPool> pools;
  std::vector<FleetJob> jobs;
  nlohmann::json resolved;  // the file with every default filled in (repeats expanded)
};

FleetSpec load_fleet(const std::filesystem::path& file, const Catalogs& catalogs);
FleetSpec parse_fleet(const nlohmann::json& json, const std::string& file_label, const std::filesystem::path& base_dir,
                      const Catalogs& catalogs);

// Facility power of one node of `chip` at `pue` with no job on it: (chips x TDP x the power fraction + host power)
// x PUE; the scale-out network's ports come on top once a job's topology is known.
double node_facility_power_w(const Chip& chip, const Node& node, double pue, const Assumptions& assumptions);

// What one job needs and does on one pool.
struct JobSizing {
  bool feasible = false;
  std::string reason;         // why not, when not feasible
  int chips = 0;              // whole nodes
  double duration_s = 0;      // training: wall time (whole run's median with failures); serving: 0 (held)
  double power_w = 0;         // facility power while it runs (the site's PUE)
  double flop_per_s = 0;      // model FLOP/s delivered while it runs
  double usd_per_hour = 0;    // its chips at the pool's price
  std::string plan;           // the plan in one line
  double failure_free_s = 0;  // training: without failures
};

// Sizes `job` on `pool` (tier 1). Cached in `cache` by what the size depends on (scenario, tokens, chip, PUE, price,
// chips asked, the seed, and for a deadline search the pool's size); the pool's size and its site's power are
// checked on every call.
JobSizing size_job(const FleetSpec& spec, const FleetJob& job, const FleetPool& pool, const Catalogs& catalogs,
                   std::map<std::string, JobSizing>& cache);

struct FleetOptions {
  std::function<void(const std::string&)> progress;   // a line per job sized (may be empty)
  const std::atomic<bool>* cancel = nullptr;          // set: ModelError("cancelled") at the next sizing
  std::map<std::string, JobSizing>* cache = nullptr;  // sizes shared across runs (what-ifs); none: one per run
};

struct FleetPoint {
  double t_days = 0;
  double value = 0;
};

// finished: within the horizon; running: started within it, finishes after; waiting: queued at the horizon's end
// (its start and finish are still simulated and reported); unscheduled: no pool can ever run it.
enum class FleetJobStatus { finished, running_at_horizon_end, waiting_at_horizon_end, unscheduled };
std::string_view to_string(FleetJobStatus status);

struct FleetJobResult {
  std::string name;
  FleetJobKind kind = FleetJobKind::training;
  FleetJobStatus status = FleetJobStatus::unscheduled;
  std::string reason;  // unscheduled: why
  std::string pool;  // a mixed-fleet job: its pools joined with "+" ("h800+h20"), and so its chips
  std::string chip;
  int chips = 0;
  std::string plan;
  int priority = 0;
  double arrival_days = 0;
  double start_days = 0;
  double finish_days = 0;  // serving: when its chips are released
  std::optional<double> deadline_days;
  std::optional<bool> deadline_met;
  double tokens = 0;  // training: tokens; serving: output tokens per day
  double power_mw = 0;
  double energy_mwh = 0;  // within the horizon
  double cost_usd = 0;    // its chip-hours within the horizon at the pool's price
  double flop = 0;        // model FLOP within the horizon
};

struct FleetPoolResult {
  std::string id;
  std::string site;
  std::string chip;
  int chips = 0;
  double utilisation = 0;  // busy chip-time / held chip-time over the horizon
  double flop = 0;
  double energy_mwh = 0;
  double held_cost_usd = 0;            // every chip for the whole horizon at the pool's price
  std::vector<FleetPoint> busy_chips;  // step function: the value holds from t until the next point
};

struct FleetSiteResult {
  std::string id;
  double capacity_mw = 0;
  double peak_mw = 0;
  double energy_mwh = 0;
  std::vector<FleetPoint> power_mw;  // step function
};

struct FleetResult {
  std::string name;
  std::string file;
  double horizon_days = 0;
  std::optional<std::string> start_date;
  std::uint64_t seed = 1;
  std::vector<FleetJobResult> jobs;  // in file order (repeats expanded)
  std::vector<FleetPoolResult> pools;
  std::vector<FleetSiteResult> sites;
  double flop = 0;              // within the horizon
  double flop_per_s_years = 0;  // flop / one year of seconds (365.25 days)
  double energy_mwh = 0;
  double electricity_usd = 0;
  double held_cost_usd = 0;  // the fleet held for the horizon
  double job_cost_usd = 0;   // the chip-hours jobs used
  int jobs_finished = 0;     // training jobs finished within the horizon
  long events = 0;
  double sizing_wall_s = 0;
  double simulation_wall_s = 0;
};

// The fleet over its horizon. Deterministic: the same spec (and seed) gives the same schedule.
FleetResult simulate_fleet(const FleetSpec& spec, const Catalogs& catalogs, const FleetOptions& options = {});

// "2025-03-14" for `days` after `start_date` ("YYYY-MM-DD").
std::string date_after(const std::string& start_date, double days);

// The fewest chips of pool `pool_id` (whole nodes, bisected) whose fleet delivers at least `target_flop` within the
// horizon; every other pool and job as given. The site is not a limit in the search (its capacity is raised), so the
// answer's peak power is the power it takes. ModelError when even `max_chips` cannot.
struct FleetMatch {
  int chips = 0;
  FleetResult result;
  int simulations = 0;
};
FleetMatch match_fleet(FleetSpec spec, const std::string& pool_id, double target_flop, int max_chips,
                       const Catalogs& catalogs);

nlohmann::json fleet_result_to_json(const FleetResult& result);

}  // namespace flopcast
