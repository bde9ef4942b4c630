#pragma once
// Scenario sweeps: a base scenario and axes, each a JSON pointer into it with a list or range of values, combined
// as a grid (every combination, the last axis fastest) or zipped (the i-th value of every axis together).
//
//   {"base": "../shipped/deepseek-v3-h800.json",        (or the scenario object itself)
//    "mode": "grid",                                      (or "zip")
//    "tier": "analytical",                                (replica, full)
//    "axes": [{"path": "/cluster/chip", "values": ["h800-sxm", "h20"]},
//             {"path": "/costs/usd_per_chip_hour", "range": {"from": 1, "to": 3, "step": 0.5}}]}
//
// Every value is checked on its own before anything runs: a path that does not exist, a value of the wrong type, an
// unknown chip are errors naming the axis and the value. A combination that does not fit together (an indivisible
// plan) or that does not fit in memory is a row with its reason, not an error.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast {

struct SweepAxis {
  std::string path;  // a JSON pointer into the base scenario
  std::vector<nlohmann::json> values;
};

struct Sweep {
  std::string file;
  nlohmann::json base;
  std::filesystem::path base_dir;  // relative paths in the base (hf_config) resolve here
  bool zip = false;
  Tier tier = Tier::analytical;
  std::vector<SweepAxis> axes;

  std::size_t size() const;
  // The axis values of point `index` (in axis order) and the scenario JSON with them set. A sweep of
  // /cluster/chips that does not set /parallelism/dp scales dp with the chips (tp, pp and cp kept).
  std::vector<nlohmann::json> values_of(std::size_t index) const;
  nlohmann::json point_json(std::size_t index) const;
  // Changes when anything that decides the points changes: a resumed sweep must be the same sweep.
  std::string fingerprint() const;

 private:
  void scale_data_parallel(nlohmann::json& point) const;
};

// Hears how many axis values have been checked in the base scenario, of how many (each is a scenario parse: a
// million-value axis takes seconds).
using SweepCheckProgress = std::function<void(std::size_t checked, std::size_t total)>;

// Reads and checks a sweep file. InputError listing every problem.
Sweep load_sweep(const std::filesystem::path& file, const Catalogs& catalogs, const SweepCheckProgress& progress = {});
// The same from parsed JSON: `file_label` names it in messages; a base given as a file name resolves in `base_dir`.
Sweep parse_sweep(const nlohmann::json& json, const std::string& file_label, const std::filesystem::path& base_dir,
                  const Catalogs& catalogs, const SweepCheckProgress& progress = {});

// One point: {"index", "point": {path: value}, "status": "ok" | "infeasible", "reason", and the results in SI
// units with their p10-p90 bounds}. Never throws for a point that does not fit together: that is its reason.
nlohmann::json evaluate_sweep_point(const Sweep& sweep, std::size_t index, const Catalogs& catalogs);

// The CSV header and one row (the same columns for every row; empty cells for an infeasible point).
std::string sweep_csv_header(const Sweep& sweep);
std::string sweep_csv_row(const Sweep& sweep, const nlohmann::json& row);

}  // namespace flopcast
