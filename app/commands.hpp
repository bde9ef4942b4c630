#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast::cli {

// A plan that does not fit in memory is still estimated (the times say what it would do with enough memory), but a
// person must not miss it: every command that prints or writes a plan's results warns on standard error.
void warn_if_it_does_not_fit(const std::string& file, const MemoryReport& memory);

// Each returns the process exit code; input problems are thrown as InputError/ModelError for main to report.
struct RunOptions {
  Tier tier = Tier::replica;
  std::string trace_file;  // empty: no trace
  bool no_overlap = false;
  bool quiet = false;
  double max_minutes = 10;  // tiers 2 and 3 refuse a simulation expected to take longer (0: no limit)
};

int run_scenarios(const std::vector<std::string>& files, bool json, const RunOptions& options,
                  const Catalogs& catalogs, std::ostream& out);
struct ValidateOptions {
  std::string dir;      // empty: scenarios/validation
  std::string out_dir;  // where validation.csv and validation.md go; empty: not written
  bool cross_validate = false;  // also leave-one-out and leave-one-family-out errors
  bool quiet = false;
};
int validate_runs(const ValidateOptions& options, const Catalogs& catalogs, std::ostream& out);

struct CalibrateOptions {
  std::string dir;        // empty: scenarios/validation
  std::string runs_file;  // published or measured runs in calibration_runs.json's format, instead of `dir`
  std::string out_file;   // empty: models/data/calibration.json (with runs_file: calibration.json here)
  std::string report_dir;  // also validate the runs under the new values: validation and cross_validation files
  bool dry_run = false;
  bool quiet = false;
};
int calibrate_runs(const CalibrateOptions& options, const Catalogs& catalogs, std::ostream& out);

struct ClaimsOptions {
  std::string dir;  // empty: scenarios/claims
  Tier tier = Tier::replica;
  bool json = false;
  bool quiet = false;
};
int check_claims(const ClaimsOptions& options, const Catalogs& catalogs, std::ostream& out);

struct SweepOptions {
  std::string file;
  std::string out;  // prefix of OUT.csv and OUT.jsonl; empty: the sweep file's name in the current folder
  int jobs = 0;     // worker processes; 0: one per core
  bool resume = false;
  bool force = false;
  bool quiet = false;
};
int run_sweep(const SweepOptions& options, const Catalogs& catalogs, std::ostream& out);

struct PlanOptions {
  std::string file;
  int top_k = 5;
  Tier tier = Tier::replica;
  bool json = false;
  std::vector<std::string> chips;        // chip types to compare (default: the scenario's)
  std::optional<double> deadline_days;   // fewest chips of each type to finish in time
  std::optional<double> tokens;          // overrides the scenario's training tokens
  std::optional<double> budget_usd;      // most tokens for this money
  int max_chips = 65536;
  bool all = false;      // every plan of the space, estimated in full, to `csv_file`
  std::string csv_file;
  std::vector<std::string> pin;  // dimensions of the space kept at the scenario's values
  std::vector<std::string> precisions;  // training precisions to search ("all": each the chip runs)
};
int plan_scenario(const PlanOptions& options, const Catalogs& catalogs, std::ostream& out);

struct CompareCommandOptions {
  std::string file;
  std::vector<std::string> chips;  // chip types (default: the scenario's)
  int chip_count = 0;              // chips of each type (0: the scenario's count), rounded up to whole nodes
  std::optional<double> tokens;    // overrides the scenario's training tokens
  Tier tier = Tier::replica;
  bool keep_plan = false;          // the scenario's plan where it runs and fits, the planner's elsewhere
  bool json = false;
  bool quiet = false;
};
int compare_command(const CompareCommandOptions& options, const Catalogs& catalogs, std::ostream& out);

struct ServeOptions {
  std::vector<std::string> files;
  Tier tier = Tier::replica;  // analytical: tier 1; replica or full: the request-level simulation
  bool json = false;
  bool search = false;             // the best plan and batch per chip type instead
  bool curve = false;              // throughput per chip against tokens/s per user, per chip type, instead
  bool validate = false;           // each deployment's prediction against its published figure, and the errors by slice
  bool cross_validate = false;     // with validate: fit the serving overheads, leave one source out, and the spread
  std::vector<std::string> chips;  // chip types the search compares (default: the scenario's)
};
int serve_scenarios(const ServeOptions& options, const Catalogs& catalogs, std::ostream& out);
struct ReportCommandOptions {
  std::vector<std::string> files;  // scenarios and sweeps
  std::string out_dir;
  std::string claims_dir;  // empty: no claims
  std::string fleet_file;  // a fleet file: its report instead of the scenarios'
  std::vector<std::string> chips;  // a chip comparison of the one scenario given (flopcast compare's) instead
  int chip_count = 0;              // chips of each type in the comparison (0: the scenario's)
  Tier tier = Tier::replica;
  double price_swing = 0.25;
  std::string title;
  bool quiet = false;
};
int write_report(const ReportCommandOptions& options, const Catalogs& catalogs, std::ostream& out);

struct FleetCommandOptions {
  std::string file;
  bool json = false;
  std::string out_file;    // also write the JSON result here (atomically)
  std::string match_file;  // a reference fleet: size `match_pool` to deliver its model FLOP
  std::string match_pool;
  int max_chips = 4'000'000;
};
int run_fleet(const FleetCommandOptions& options, const Catalogs& catalogs, std::ostream& out);

int catalog_chips(bool json, const Catalogs& catalogs, std::ostream& out);
int catalog_models(bool json, const Catalogs& catalogs, std::ostream& out);
int catalog_show(const std::string& id, bool json, const Catalogs& catalogs, std::ostream& out);

}  // namespace flopcast::cli
