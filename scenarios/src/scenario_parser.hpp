#pragma once
// The scenario file's parser (scenario.cpp's parse_scenario), in two files: reading each section into the job with
// its problems and defaults (scenario_read.cpp), and checking the plan against the model and cluster, picking what
// was left to pick and writing the resolved scenario (scenario_resolve.cpp).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopcast/core/json_reader.hpp"
#include "flopcast/scenarios/scenario.hpp"

namespace flopcast::scenario_detail {

namespace fs = std::filesystem;

inline constexpr IntegerBounds kAtLeastOne{.min = 1, .max = 1 << 30};

class ScenarioParser {
 public:
  ScenarioParser(const nlohmann::json& json, std::string file, fs::path base_dir, const Catalogs& catalogs)
      : json_(json), file_(std::move(file)), base_dir_(std::move(base_dir)), catalogs_(catalogs) {}

  Scenario parse();

 private:
  TrainingJob& job() { return scenario_.job; }

  void read_model(JsonReader& root);

  void read_cluster(JsonReader& root);

  void read_published(JsonReader& root);

  // A mixed fleet: {"stages": [2, 3], "chip": "h20", "node": "hgx-h20"}; the node defaults to the chip's.
  void read_stage_chips(JsonReader& cluster, const Node* cluster_node);

  void read_parallelism(JsonReader& root);
  void read_pin(JsonReader& parallelism);

  void read_training(JsonReader& root);

  void read_costs(JsonReader& root);

  // Each stage group's price: given with the group, or the catalog's for its chip.
  void read_stage_prices();

  // "/cluster/stage_chips/0" -> "cluster.stage_chips[0]" for the defaults list.
  static std::string dotted(const std::string& pointer);

  // Cross-field checks once every field is read: products, divisibility, precision support.
  void check_plan();

  nlohmann::json resolved_json() const;

  const nlohmann::json& json_;
  std::string file_;
  fs::path base_dir_;
  const Catalogs& catalogs_;
  std::vector<Problem> problems_;
  Scenario scenario_;
  // The interleaved schedule without a virtual-stage count: the vpp (2 up to the layers per stage) whose tier-1 step
  // is fastest among the plans that fit in memory (or fastest of all when none fits), as the planner would pick it;
  // listed in the defaults used, with every candidate tried.
  void pick_virtual_stages();

  // "recompute": "auto": the least recomputation (none, then selective, then full) under which the plan fits in
  // memory, as a run that ran must have used; full where none fits. Listed in the defaults used with each candidate's
  // memory. Full is not a candidate with ep_comm_overlap (combined 1F1B cannot run with it).
  void pick_recompute();

  bool recompute_to_pick_ = false;
  bool vpp_given_ = false;
  bool dispatcher_given_ = false;
  std::optional<bool> pp_comm_overlap_given_;  // parallelism.pp_comm_overlap as written
  bool vpp_to_pick_ = false;
  std::optional<std::int64_t> dp_given_;
  std::optional<double> tokens_given_;
  struct StagePrices {
    std::optional<double> usd_per_chip_hour;
    std::optional<double> chip_capex_usd;
    std::string path;
  };
  std::vector<StagePrices> stage_prices_;  // as given, per /cluster/stage_chips element
};

}  // namespace flopcast::scenario_detail
