#pragma once
// Claims from public debate, checked against the model. A claim file (scenarios/claims/*.json) states the claim and
// its source, and lists checks: a metric of one scenario, the sum over several, or the ratio of two, each optionally
// with the claimed value. A scenario is a training run, or a deployment (a scenario with a serving section), which
// the serving model runs. Some metrics are the model's or the catalog's own figures (KV bytes per token, FLOPs per
// token, a chip's price): they carry no model error, only the catalog's range where it has one. The verdict is
// computed from the prediction and its p10-p90 interval, never typed in:
//   "about" (default)  consistent when the claimed value lies inside the interval;
//   "at_most"          holds when the interval lies below it, plausible when it straddles it, fails otherwise;
//   "at_least"         the mirror image.
// A check whose scenario does not fit in memory gets the verdict "does not fit in memory", whatever its figures say.
// A check may also ask what would have to be true for the claimed value: the factor on every kernel efficiency of
// the chip family (tier 1) that reaches it, and the ceiling with all kernels at 100 % of peak.
// SCHEMA.md lists the keys.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast {

enum class ClaimMetric {
  step_time_s,
  train_days,
  chip_hours,
  cost_usd,
  usd_per_mtok,
  yearly_cost_usd,  // the cluster's cost per hour of running, for a year (8,766 h)
  mfu,
  tokens_per_s_per_chip,
  tokens_per_s,  // the whole cluster's
  kwh_per_mtok,  // facility energy per million training tokens
  // Deployments (serving):
  output_tokens_per_s_per_chip,
  serving_usd_per_m_tokens,  // the deployment's cost over every token it reads and writes
  serving_usd_per_m_output,  // the decode share of the cost over the output tokens
  kv_tokens_per_chip,        // tokens of context the deployment's KV caches hold (every instance and rank) over its chips
  // Either kind, from the model and the catalog alone (no model error):
  kv_bytes_per_token,      // the whole model's KV cache for one token, at the deployment's KV precision (bf16 in training)
  forward_flop_per_token,  // 2 x the parameters a token passes through in matrix multiplies
  chip_price_usd,          // the catalog's purchase price of the cluster's chip (its range where the catalog has one)
  chips_capex_usd          // chips x that price: what the accelerators cost to buy
};
enum class ClaimRelation { about, at_most, at_least };
enum class CheckCombine { single, sum, ratio };

struct ClaimCheck {
  std::string label;
  ClaimMetric metric = ClaimMetric::cost_usd;
  CheckCombine combine = CheckCombine::single;
  std::vector<Scenario> scenarios;  // one; several for a sum; numerator and denominator for a ratio
  std::optional<double> claimed;
  ClaimRelation relation = ClaimRelation::about;
  bool solve_kernel_efficiency = false;
  double scale = 1;  // the value and its bounds times this, giving a count: a ratio of per-chip rates times a chip count
                     // (chips that match), chip-hours over hours (chips for that long)
};

struct Claim {
  std::string file;
  std::string claim;
  std::string source;
  std::string note;  // what the checks leave out
  std::vector<ClaimCheck> checks;
};

enum class Verdict { none, consistent, holds, plausible, above_range, below_range, fails, does_not_fit };
std::string_view to_string(Verdict verdict);

struct CheckResult {
  std::string label;
  ClaimMetric metric = ClaimMetric::cost_usd;
  double predicted = 0;
  double p10 = 0;
  double p90 = 0;
  std::optional<double> claimed;
  ClaimRelation relation = ClaimRelation::about;
  Verdict verdict = Verdict::none;
  // What would have to be true (solve_kernel_efficiency): the factor on the family's kernel efficiencies that gives
  // the claimed value in tier 1 (none when unreachable), and tier 1 with every kernel at 100 % of peak.
  std::optional<double> kernel_factor;
  std::optional<double> gemm_efficiency_needed;
  double at_full_kernel_efficiency = 0;
  std::vector<std::string> scenario_names;
  std::vector<std::string> not_fitting;  // "name: why", for each scenario of the check that does not fit in memory
};

struct ClaimResult {
  Claim claim;
  std::vector<CheckResult> checks;
  Verdict verdict = Verdict::none;  // the weakest verdict among the checks that carry a claimed value
};

std::string_view to_string(ClaimMetric metric);
// Whether `metric` is a deployment's (serving) figure, and whether it is a training run's.
bool is_serving_metric(ClaimMetric metric);
bool is_training_metric(ClaimMetric metric);
// A value of `metric` as a person reads it, with its unit ("$5.58 M", "38.4 %"); a ratio check's value as "0.75x".
std::string claim_value_text(ClaimMetric metric, bool ratio, double value);
// A check's value as a person reads it: a ratio as "0.75x", a scaled value (chips that match) as a count "23.9 k".
std::string check_value_text(const ClaimCheck& check, double value);

// Reads a claim file and the scenarios it names (paths relative to the file). InputError on any problem.
Claim load_claim(const std::filesystem::path& file, const Catalogs& catalogs);
// The claim files of `dir`, sorted by name.
std::vector<Claim> load_claims(const std::filesystem::path& dir, const Catalogs& catalogs);

ClaimResult evaluate_claim(const Claim& claim, const Catalogs& catalogs, Tier tier);
nlohmann::json claim_result_to_json(const ClaimResult& result);

}  // namespace flopcast
