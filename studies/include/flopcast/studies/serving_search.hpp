#pragma once
// The serving plan search: for each chip type, every instance plan (tp, dp_attention, ep, pp) and batch limit that
// fits in memory, estimated at tier 1 under a saturating closed-loop load, kept when it meets the SLO; ranked by
// output tokens per second per chip (the same ranking as $ per million output tokens at one price per chip).

#include <string>
#include <vector>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast {

struct ServingChoice {
  std::string chip;
  ServingPlan plan;
  int max_running = 0;  // sequences per attention rank
  ServingResult estimate;  // one instance, tier 1
  bool meets_slo = false;
};

struct ServingSearch {
  std::vector<ServingChoice> best;  // per chip type, in the order asked: the best plan meeting the SLO (or the
                                    // best of all, meets_slo false, when none does)
  // Per chip type, in the order asked: the throughput-interactivity curve serving benchmarks publish, the Pareto
  // front of every plan and batch over (output tokens/s per user = 1 / TPOT, output tokens/s per chip), by falling
  // tokens/s per user and rising tokens/s per chip; the SLO is not applied.
  std::vector<std::vector<ServingChoice>> fronts;
  long evaluated = 0;               // plans x batch sizes estimated
  double wall_s = 0;
};

// `chips` empty: the scenario's chip. Colocated plans only (prefill and decode in the same instances); chips other
// than the scenario's use their default node and fabric and the catalog's rental price.
ServingSearch search_serving(const Scenario& scenario, const std::vector<std::string>& chips, const Catalogs& catalogs);

// Output tokens per second one user sees in a choice's steady state: 1 / TPOT.
double tokens_per_s_per_user(const ServingChoice& choice);

// The choices no other beats on both tokens/s per user and tokens/s per chip, by falling tokens/s per user.
std::vector<ServingChoice> pareto_front(std::vector<ServingChoice> choices);

}  // namespace flopcast
