// The plan search: every plan it returns runs and fits, the ranking is by step time, the space is accounted for.

#include <set>

#include "flopcast/studies/planner.hpp"
#include "helpers.hpp"

namespace flopcast {

namespace {

const nlohmann::json kJob = test::small_job();

// Every plan of the search's space that fits, each estimated in full at tier 1, fastest first (and the search's
// result in `search`).
std::vector<PlanCandidate> every_plan(const Scenario& scenario, PlanSearchOptions options,
                                      PlanSearchResult* search = nullptr) {
  std::vector<PlanCandidate> every;
  options.each = [&](const EvaluatedPlan& e) {
    if (e.status == EvaluatedPlan::Status::estimated) {
      every.push_back({e.plan, *e.estimate, Tier::analytical, e.estimate->step_time_s, e.precision});
    }
  };
  auto result = search_plans(scenario, test::catalogs(), options);
  if (search != nullptr) *search = std::move(result);
  std::sort(every.begin(), every.end(), ranks_before);
  return every;
}

}  // namespace

TEST_CASE("the plan search returns runnable plans that fit, fastest first", "[planner]") {
  const auto scenario = test::scenario_from(kJob);
  PlanSearchOptions options;
  options.top_k = 4;
  options.rerank_tier = Tier::analytical;
  const auto result = search_plans(scenario, test::catalogs(), options);
  CHECK(result.enumerated == result.dominated + result.out_of_memory + result.invalid + result.evaluated);
  CHECK(result.evaluated > 10);
  REQUIRE(result.best.size() == 4);
  for (std::size_t i = 0; i < result.best.size(); ++i) {
    const auto& c = result.best[i];
    INFO(plan_summary(c.plan));
    CHECK(c.estimate.memory.fits);
    CHECK(static_cast<long>(c.plan.tp) * c.plan.pp * c.plan.cp * c.plan.dp == 64);
    CHECK(c.plan.sp == (c.plan.tp > 1));
    if (i > 0) CHECK(result.best[i - 1].estimate.step_time_s <= c.estimate.step_time_s);
    // The plan passes the scenario checks as a file would.
    auto json = kJob;
    json["parallelism"] = plan_to_json(c.plan);
    CHECK_NOTHROW(test::scenario_from(json));
  }
  // The file's plan (tp 2, pp 2, full recompute) is in the space: the best is at least as fast.
  REQUIRE(result.given.has_value());
  CHECK(result.best.front().estimate.step_time_s <= result.given->estimate.step_time_s);
}

TEST_CASE("a listed stage layout stays with its own pipeline depth, and other depths balance theirs", "[planner]") {
  // 32 layers listed over pp 4 as 7, 9, 9, 7: a candidate with pp 2 must not read the first two entries (16 of the
  // 32 layers) as its whole model.
  auto job = kJob;
  job["parallelism"] = {{"tp", 1}, {"pp", 4}, {"dp", 16}, {"zero", 1}, {"recompute", "full"},
                        {"stage_layers", {7, 9, 9, 7}}};
  const auto scenario = test::scenario_from(job);
  PlanSearchOptions options;
  options.top_k = 20;
  options.rerank_tier = Tier::analytical;
  const auto result = search_plans(scenario, test::catalogs(), options);
  REQUIRE(!result.best.empty());
  for (const auto& c : result.best) {
    INFO(plan_summary(c.plan));
    CHECK(c.estimate.mfu < 1.0);
    if (c.plan.pp * c.plan.vpp != 4) CHECK(c.plan.layout != PipelineLayout::listed);
    if (c.plan.layout == PipelineLayout::listed) CHECK(c.plan.stage_layers.size() == 4);
  }
  // The estimator refuses a listed layout of another depth instead of simulating part of the model.
  auto plan = scenario.job.plan;
  plan.pp = 2;
  plan.dp = 32;
  auto mismatched = scenario.job;
  mismatched.plan = plan;
  CHECK_THROWS_AS(estimate_training(mismatched, test::catalogs().assumptions), ModelError);
}

TEST_CASE("the best K, pruned and bounded, are the best K of every plan estimated in full", "[planner]") {
  const auto scenario = test::scenario_from(kJob);
  const auto& a = test::catalogs().assumptions;
  PlanSearchOptions options;
  options.rerank_tier = Tier::analytical;
  options.compare_given = false;
  // Every plan of the space through the visitor: nothing pruned, each plan that fits estimated in full.
  std::vector<PlanCandidate> every;
  long every_out_of_memory = 0;
  bool some_bound_above_zero_bubble = false;
  options.each = [&](const EvaluatedPlan& e) {
    if (e.status == EvaluatedPlan::Status::out_of_memory) ++every_out_of_memory;
    if (e.status != EvaluatedPlan::Status::estimated) return;
    every.push_back({e.plan, *e.estimate, Tier::analytical, e.estimate->step_time_s});
    // The bound (the pipeline not walked) is never above the walked estimate, and above the bubble-free time where
    // the stages before a device must run first.
    TrainingJob job = scenario.job;
    job.plan = e.plan;
    EstimateOptions bound;
    bound.bubble = false;
    const auto lower = estimate_training(job, a, bound);
    INFO(plan_summary(e.plan));
    CHECK(lower.step_time_s <= e.estimate->step_time_s * (1 + 1e-12));
    some_bound_above_zero_bubble = some_bound_above_zero_bubble || lower.breakdown.bubble_s > 0;
  };
  const auto all = search_plans(scenario, test::catalogs(), options);
  CHECK(all.dominated == 0);
  CHECK(all.pruned_by_memory == 0);
  CHECK(static_cast<long>(every.size()) == all.evaluated);
  CHECK(some_bound_above_zero_bubble);
  std::sort(every.begin(), every.end(), ranks_before);

  options.each = {};
  options.top_k = 4;
  const auto pruned = search_plans(scenario, test::catalogs(), options);
  CHECK(pruned.enumerated == all.enumerated);
  CHECK(pruned.dominated > 0);
  CHECK(pruned.pruned_by_memory > 0);
  // The bound prunes most of the space here (the best plans' step time is below most plans' bound).
  CHECK(pruned.pipelines_walked < pruned.evaluated / 10);
  REQUIRE(pruned.best.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    INFO(i << ": " << plan_summary(pruned.best[i].plan) << " vs " << plan_summary(every[i].plan));
    CHECK(plan_summary(pruned.best[i].plan) == plan_summary(every[i].plan));
    CHECK(pruned.best[i].estimate.step_time_s == every[i].estimate.step_time_s);
  }
  // With TP overlap pinned nothing is dominated, and the memory pruned from smaller micro-batches is exactly what
  // the memory model says of every plan.
  options.pinned = {"tp_comm_overlap"};
  const auto pinned = search_plans(scenario, test::catalogs(), options);
  options.each = [](const EvaluatedPlan&) {};
  const auto pinned_all = search_plans(scenario, test::catalogs(), options);
  CHECK(pinned.dominated == 0);
  CHECK(pinned.out_of_memory == pinned_all.out_of_memory);
  CHECK(pinned.evaluated == pinned_all.evaluated);
}

TEST_CASE("the quick space (fleet sizing, comparisons) prunes only by memory and bound, and keeps its best exact",
          "[planner]") {
  // The scenario without TP overlap: the quick space keeps that setting, so nothing in it is dominated.
  const auto scenario = test::scenario_from(kJob);
  PlanSearchOptions options;
  options.rerank_tier = Tier::analytical;
  options.compare_given = false;
  options.quick = true;
  PlanSearchResult all;
  const auto every = every_plan(scenario, options, &all);
  options.top_k = 3;
  const auto pruned = search_plans(scenario, test::catalogs(), options);
  CHECK(pruned.dominated == 0);
  CHECK(pruned.enumerated == all.enumerated);
  PlanSearchOptions full_space;
  full_space.rerank_tier = Tier::analytical;
  full_space.compare_given = false;
  CHECK(pruned.enumerated < search_plans(scenario, test::catalogs(), full_space).enumerated);
  REQUIRE(pruned.best.size() == 3);
  bool some_tp = false;
  for (const auto& c : every) some_tp = some_tp || c.plan.tp > 1;
  CHECK(some_tp);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO(i << ": " << plan_summary(pruned.best[i].plan) << " vs " << plan_summary(every[i].plan));
    CHECK(pruned.best[i].estimate.step_time_s == every[i].estimate.step_time_s);
  }
}

TEST_CASE("pinned dimensions keep the scenario's values, and the rest are searched", "[planner]") {
  auto job = kJob;
  job["parallelism"]["tp"] = 4;
  job["parallelism"]["dp"] = 8;
  job["parallelism"]["micro_batch"] = 2;
  const auto scenario = test::scenario_from(job);
  PlanSearchOptions options;
  options.rerank_tier = Tier::analytical;
  options.top_k = 10;
  options.pinned = {"tp", "micro_batch"};
  const auto pinned = search_plans(scenario, test::catalogs(), options);
  REQUIRE(!pinned.best.empty());
  for (const auto& c : pinned.best) {
    CHECK(c.plan.tp == 4);
    CHECK(c.plan.micro_batch == 2);
  }
  // More than one plan: the other dimensions were searched.
  CHECK(pinned.evaluated > 1);
  options.pinned.clear();
  const auto free = search_plans(scenario, test::catalogs(), options);
  CHECK(free.enumerated > pinned.enumerated);
  CHECK(free.best.front().estimate.step_time_s <= pinned.best.front().estimate.step_time_s);
}

TEST_CASE("a scenario's parallelism.pin pins as --pin does, and the two add up", "[planner]") {
  auto job = kJob;
  job["parallelism"]["tp"] = 4;
  job["parallelism"]["dp"] = 8;
  job["parallelism"]["micro_batch"] = 2;
  job["parallelism"]["pin"] = {"tp"};
  const auto scenario = test::scenario_from(job);
  PlanSearchOptions options;
  options.rerank_tier = Tier::analytical;
  options.top_k = 10;
  const auto from_file = search_plans(scenario, test::catalogs(), options);
  REQUIRE(!from_file.best.empty());
  for (const auto& c : from_file.best) CHECK(c.plan.tp == 4);
  // The same search as --pin tp on the file without its pin.
  job["parallelism"].erase("pin");
  options.pinned = {"tp"};
  const auto from_option = search_plans(test::scenario_from(job), test::catalogs(), options);
  CHECK(from_file.enumerated == from_option.enumerated);
  CHECK(from_file.best.front().estimate.step_time_s == from_option.best.front().estimate.step_time_s);
  // The file's tp and the option's micro_batch, both kept.
  options.pinned = {"micro_batch"};
  const auto both = search_plans(scenario, test::catalogs(), options);
  REQUIRE(!both.best.empty());
  for (const auto& c : both.best) {
    CHECK(c.plan.tp == 4);
    CHECK(c.plan.micro_batch == 2);
  }
  CHECK(both.enumerated < from_file.enumerated);
  // The result names every dimension kept, in the search's order, whichever side pinned it.
  CHECK(from_file.pinned == std::vector<std::string>{"tp"});
  CHECK(both.pinned == std::vector<std::string>{"tp", "micro_batch"});
}

TEST_CASE("the search finds Calculon's pick for Megatron 22B on 8 A100, or a faster plan, at both tiers",
          "[planner]") {
  // Korthikanti et al. 2022's 22B on 8 A100-80GB, 4 sequences of 2,048 per step. Calculon's search (Isaev et al.,
  // SC'23) picks tp 4, pp 2 with 24 virtual stages (one layer each), micro-batch 2 and TP overlap; in flopcast's
  // memory model it needs selective recompute to fit.
  auto scenario = load_scenario(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios/validation/korthikanti2022-22B-seqsel.json",
                                test::catalogs());
  ParallelPlan calculon = scenario.job.plan;
  calculon.tp = 4;
  calculon.pp = 2;
  calculon.dp = 1;
  calculon.schedule = Schedule::interleaved;
  calculon.vpp = 24;
  calculon.micro_batch = 2;
  calculon.tp_comm_overlap = true;
  calculon.recompute = Recompute::selective;
  std::vector<PlanCandidate> pick{estimate_plan(scenario, calculon, test::catalogs())};
  REQUIRE(pick.front().estimate.memory.fits);
  PlanSearchOptions options;
  options.top_k = 3;
  const auto result = search_plans(scenario, test::catalogs(), options);
  REQUIRE(!result.best.empty());
  CHECK(result.best.front().tier1_step_time_s <= pick.front().tier1_step_time_s);
  rerank(scenario, test::catalogs(), pick, Tier::replica);
  INFO(plan_summary(result.best.front().plan));
  CHECK(result.best.front().estimate.step_time_s <= pick.front().estimate.step_time_s);
}

TEST_CASE("re-ranking runs the best plans at the discrete-event tier", "[planner]") {
  const auto scenario = test::scenario_from(kJob);
  PlanSearchOptions options;
  options.top_k = 2;
  options.rerank_tier = Tier::replica;
  const auto result = search_plans(scenario, test::catalogs(), options);
  REQUIRE(result.best.size() == 2);
  for (const auto& c : result.best) {
    CHECK(c.tier == Tier::replica);
    // Tier 2 agrees with tier 1 within the spread the validation shows between them.
    CHECK_THAT(c.estimate.step_time_s, Catch::Matchers::WithinRel(c.tier1_step_time_s, 0.15));
  }
  CHECK(result.best[0].estimate.step_time_s <= result.best[1].estimate.step_time_s);
}

TEST_CASE("the re-rank finds what re-ranking each schedule's best would, skipping plans that cannot rank",
          "[planner]") {
  const auto scenario = test::scenario_from(kJob);
  // Every plan that fits, estimated in full at tier 1, fastest first.
  PlanSearchOptions options;
  options.rerank_tier = Tier::analytical;
  options.compare_given = false;
  const auto every = every_plan(scenario, options);
  // Without the floors: the best K and the fastest plan of each schedule class within kTierGap of the best, every
  // one of them at tier 2.
  constexpr std::size_t k = 2;
  REQUIRE(every.size() > k);
  std::vector<PlanCandidate> all(every.begin(), every.begin() + k);
  std::set<int> classes;
  for (const auto& c : every) {
    if (!classes.insert(schedule_class(c.plan)).second) continue;
    const bool listed = plan_summary(c.plan) == plan_summary(all[0].plan) || plan_summary(c.plan) == plan_summary(all[1].plan);
    if (!listed && c.tier1_step_time_s <= every.front().tier1_step_time_s / (1 - kTierGap)) all.push_back(c);
  }
  INFO(all.size() << " plans re-ranked without the floors");
  CHECK(classes.size() >= 2);
  rerank(scenario, test::catalogs(), all, Tier::replica);

  options.top_k = static_cast<int>(k);
  options.rerank_tier = Tier::replica;
  const auto result = search_plans(scenario, test::catalogs(), options);
  REQUIRE(result.best.size() == k);
  // A schedule's best whose floor (tier 1 less its class's gap) is above the K-th tier-2 time is not simulated: here
  // two (1F1B's and ZB-H1's, 4 % gaps), and at least one is simulated.
  long could_rank = static_cast<long>(k);  // the best K at tier 1, always re-ranked
  for (const auto& c : all) {
    const bool best_k = plan_summary(c.plan) == plan_summary(every[0].plan) ||
                        plan_summary(c.plan) == plan_summary(every[1].plan);
    if (!best_k && c.tier1_step_time_s * (1.0 - tier_gap(c.plan)) < all[k - 1].estimate.step_time_s) ++could_rank;
  }
  CHECK(could_rank > static_cast<long>(k));
  CHECK(could_rank < static_cast<long>(all.size()));
  CHECK(result.reranked == could_rank);
  for (std::size_t i = 0; i < k; ++i) {
    INFO(i << ": " << plan_summary(result.best[i].plan) << " vs " << plan_summary(all[i].plan));
    CHECK(plan_summary(result.best[i].plan) == plan_summary(all[i].plan));
    CHECK(result.best[i].estimate.step_time_s == all[i].estimate.step_time_s);
  }
  // The floors by class (the validation regression checks them against every run).
  ParallelPlan plan = scenario.job.plan;
  plan.pp = 1;
  CHECK(tier_gap(plan) == kTierGapNoPipeline);
  plan.pp = 4;
  plan.schedule = Schedule::one_f_one_b;
  CHECK(tier_gap(plan) == kTierGap1F1B);
  plan.schedule = Schedule::interleaved;
  CHECK(tier_gap(plan) == kTierGap);
  plan.schedule = Schedule::dualpipe;
  CHECK(tier_gap(plan) == kTierGap1F1B);
  plan.schedule = Schedule::zero_bubble;
  CHECK(tier_gap(plan) == kTierGap1F1B);
}

TEST_CASE("a plan that fits only with activations offloaded takes the fewest layers that fit", "[planner]") {
  // Llama 3.1 405B on 16,384 H100: a few plans without a pipeline or recomputation fit only with some layers'
  // activations in host memory (Transformer Engine's CPU offloading, which Megatron runs with pp 1 and no
  // recomputation); each takes the fewest layers that fit, as more only lengthen the step.
  const auto scenario =
      load_scenario(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios/shipped/llama3-405b-h100.json", test::catalogs());
  const auto& a = test::catalogs().assumptions;
  PlanSearchOptions options;
  options.rerank_tier = Tier::analytical;
  options.compare_given = false;
  PlanSearchResult result;
  const auto every = every_plan(scenario, options, &result);
  const auto params = count_params(scenario.job.model);
  long offloaded = 0;
  for (const auto& c : every) {
    if (c.plan.offload_activation_layers == 0) continue;
    ++offloaded;
    INFO(plan_summary(c.plan));
    CHECK(c.plan.pp == 1);
    CHECK(c.plan.recompute == Recompute::none);
    CHECK(plan_summary(c.plan).find("layers offloaded") != std::string::npos);
    TrainingJob job = scenario.job;
    job.plan = c.plan;
    CHECK(training_memory(job, params, a).fits);
    job.plan.offload_activation_layers -= 1;
    CHECK_FALSE(training_memory(job, params, a).fits);
  }
  CHECK(offloaded > 0);
  CHECK(offloaded == result.offloaded);
  // Others fit only with part of their optimizer shard in host memory (Megatron's optimizer CPU offload, ZeRO 0 or 1):
  // each takes the fewest sixteenths that fit.
  long states_offloaded = 0;
  for (const auto& c : every) {
    if (c.plan.optimizer_offload_fraction == 0) continue;
    ++states_offloaded;
    INFO(plan_summary(c.plan));
    CHECK(c.plan.zero <= 1);
    CHECK(c.plan.offload_activation_layers == 0);
    CHECK(plan_summary(c.plan).find("of optimizer states offloaded") != std::string::npos);
    TrainingJob job = scenario.job;
    job.plan = c.plan;
    CHECK(training_memory(job, params, a).fits);
    job.plan.optimizer_offload_fraction -= 1.0 / 16;
    CHECK_FALSE(training_memory(job, params, a).fits);
  }
  CHECK(states_offloaded > 0);
  CHECK(states_offloaded == result.optimizer_offloaded);
  // Pinned, every candidate keeps the scenario's (none).
  options.pinned = {"offload_activation_layers", "optimizer_offload_fraction"};
  const auto pinned = search_plans(scenario, test::catalogs(), options);
  CHECK(pinned.offloaded == 0);
  CHECK(pinned.optimizer_offloaded == 0);
}

TEST_CASE("plan summaries name every dimension that is not trivial", "[planner]") {
  ParallelPlan p;
  p.tp = 8;
  p.sp = true;
  p.pp = 4;
  p.vpp = 2;
  p.schedule = Schedule::interleaved;
  p.dp = 16;
  p.ep = 8;
  p.recompute = Recompute::selective;
  CHECK(plan_summary(p) ==
        "tp 8 + sp, pp 4 (interleaved, vpp 2), dp 16, ep 8, zero 1, micro-batch 1, recompute selective");
}

}  // namespace flopcast

namespace flopcast {

TEST_CASE("a cluster of another chip takes its default node and catalog price", "[planner]") {
  const auto scenario = test::scenario_from(kJob);
  const auto& catalog = test::catalogs().hardware;
  const Chip& h20 = *catalog.find_chip("h20");
  const auto s = with_cluster(scenario, h20, 128, test::catalogs());
  CHECK(s.job.cluster.chip.id == "h20");
  CHECK(s.job.cluster.node.id == h20.default_node);
  CHECK(s.job.cluster.nodes == 128 / s.job.cluster.node.chip_count());
  CHECK(s.job.costs.usd_per_chip_hour == h20.rental_price->value);
  CHECK_THROWS_AS(with_cluster(scenario, h20, 100, test::catalogs()), ModelError);  // not whole 8-chip nodes
}

TEST_CASE("the fewest chips meet the deadline and one node fewer does not", "[planner]") {
  auto scenario = test::scenario_from(kJob);
  scenario.job.training.tokens = 2e11;
  const Chip& h100 = *test::catalogs().hardware.find_chip("h100-sxm");
  const double deadline_days = 10;
  const auto found = fewest_chips(scenario, h100, deadline_days, 1024, test::catalogs());
  REQUIRE(found.has_value());
  REQUIRE(found->best.has_value());
  CHECK(found->best->estimate.train_days <= deadline_days);
  if (found->chips > 8) {
    const auto smaller = best_plan_at(scenario, h100, found->chips - 8, test::catalogs());
    CHECK((!smaller.best || smaller.best->estimate.train_days > deadline_days));
  }
  // An impossible deadline finds nothing.
  CHECK_FALSE(fewest_chips(scenario, h100, 1e-3, 64, test::catalogs()).has_value());
}

TEST_CASE("the Pareto front gets cheaper as it gets slower", "[planner]") {
  const auto scenario = test::scenario_from(kJob);
  const auto& catalog = test::catalogs().hardware;
  const auto front = pareto_front(scenario, {catalog.find_chip("h100-sxm"), catalog.find_chip("h20")}, 16, 256,
                                  test::catalogs());
  REQUIRE_FALSE(front.empty());
  for (std::size_t i = 1; i < front.size(); ++i) {
    CHECK(front[i].best->estimate.train_days >= front[i - 1].best->estimate.train_days);
    CHECK(front[i].best->estimate.energy_cost.cost_usd < front[i - 1].best->estimate.energy_cost.cost_usd);
  }
}

}  // namespace flopcast

namespace flopcast {

TEST_CASE("the search reports every plan of the space to `each`, and its best is the fastest of them", "[planner]") {
  const auto scenario = test::scenario_from(kJob);
  PlanSearchOptions options;
  options.top_k = 1;
  options.rerank_tier = Tier::analytical;
  long seen = 0, estimated = 0, out_of_memory = 0, not_runnable = 0;
  double fastest_s = 1e300;
  options.each = [&](const EvaluatedPlan& e) {
    ++seen;
    switch (e.status) {
      case EvaluatedPlan::Status::estimated:
        ++estimated;
        REQUIRE(e.estimate != nullptr);
        CHECK(e.memory.fits);
        fastest_s = std::min(fastest_s, e.estimate->step_time_s);
        break;
      case EvaluatedPlan::Status::out_of_memory:
        ++out_of_memory;
        CHECK_FALSE(e.memory.fits);
        CHECK(e.estimate == nullptr);
        break;
      case EvaluatedPlan::Status::not_runnable:
        ++not_runnable;
        CHECK_FALSE(e.why.empty());
        break;
    }
  };
  const auto result = search_plans(scenario, test::catalogs(), options);
  CHECK(seen == result.enumerated);
  CHECK(estimated == result.evaluated);
  CHECK(out_of_memory == result.out_of_memory);
  CHECK(not_runnable == result.invalid);
  // The bound-pruned search's best is the fastest of every plan estimated in full.
  REQUIRE(result.best.size() == 1);
  CHECK(result.best.front().estimate.step_time_s == fastest_s);
}

TEST_CASE("the precision is searched where asked: each plan at each, the best K exact over both", "[planner]") {
  // Llama 3 8B on 64 H100 (bf16 in the file). Asked for bf16 and fp8, the space is both spaces, one after the other,
  // and its best K are the best K of every plan at either precision, each estimated in full.
  const auto scenario = test::scenario_from(kJob);
  PlanSearchOptions options;
  options.rerank_tier = Tier::analytical;
  options.compare_given = false;
  options.top_k = 4;
  PlanSearchResult bf16_only;
  const auto bf16_every = every_plan(scenario, options, &bf16_only);
  CHECK(bf16_only.precisions == std::vector<Precision>{Precision::bf16});
  options.precisions = {Precision::fp8, Precision::bf16};  // in the search's own order whatever the order asked
  PlanSearchResult both;
  const auto both_every = every_plan(scenario, options, &both);
  CHECK(both.precisions == std::vector<Precision>{Precision::bf16, Precision::fp8});
  CHECK(both.enumerated == 2 * bf16_only.enumerated);
  options.each = {};
  const auto pruned = search_plans(scenario, test::catalogs(), options);
  REQUIRE(pruned.best.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    INFO(i << ": " << plan_summary(pruned.best[i].plan, pruned.best[i].precision));
    CHECK(same_candidate(pruned.best[i], both_every[i]));
    CHECK(pruned.best[i].estimate.step_time_s == both_every[i].estimate.step_time_s);
    // Each candidate's estimate is its plan at its precision, as estimate_plan makes it.
    const auto again = estimate_plan(scenario, pruned.best[i].plan, test::catalogs(), pruned.best[i].precision);
    CHECK(again.estimate.step_time_s == Approx(pruned.best[i].tier1_step_time_s).epsilon(1e-12));
  }
  // Each precision's best plan, found on its own: bf16's is the bf16-only search's best, fp8's the fastest fp8 plan.
  REQUIRE(pruned.precision_best.size() == 2);
  CHECK(pruned.precision_best[0].precision == Precision::bf16);
  CHECK(pruned.precision_best[0].estimate.step_time_s == bf16_every.front().estimate.step_time_s);
  CHECK(pruned.precision_best[1].precision == Precision::fp8);
  const auto fastest_fp8 = std::find_if(both_every.begin(), both_every.end(),
                                        [](const PlanCandidate& c) { return c.precision == Precision::fp8; });
  REQUIRE(fastest_fp8 != both_every.end());
  CHECK(pruned.precision_best[1].estimate.step_time_s == fastest_fp8->estimate.step_time_s);
  CHECK(bf16_only.precision_best.empty());  // one precision: nothing to compare
  // FP8 GEMMs run at twice the bf16 peak on H100 (1,979 against 989 TFLOP/s dense): the best plan trains in fp8,
  // and faster than the bf16 search's best.
  CHECK(pruned.best.front().precision == Precision::fp8);
  CHECK(pruned.best.front().estimate.step_time_s < bf16_every.front().estimate.step_time_s);
  CHECK(plan_summary(pruned.best.front().plan, Precision::fp8).ends_with(", fp8"));
  // The candidate's scenario is the file's with the candidate's plan and precision.
  const auto candidate = with_candidate(scenario, pruned.best.front());
  CHECK(candidate.job.training.precision == Precision::fp8);
  CHECK(plan_before(candidate.job.plan, pruned.best.front().plan) == false);
  // The re-rank simulates each candidate at its own precision.
  options.rerank_tier = Tier::replica;
  options.top_k = 2;
  const auto reranked = search_plans(scenario, test::catalogs(), options);
  REQUIRE_FALSE(reranked.best.empty());
  const auto& best = reranked.best.front();
  CHECK(best.tier == Tier::replica);
  CHECK(best.precision == Precision::fp8);
  std::vector<PlanCandidate> as_bf16{best};
  as_bf16.front().precision = Precision::bf16;
  rerank(scenario, test::catalogs(), as_bf16, Tier::replica);
  CHECK(as_bf16.front().estimate.step_time_s > best.estimate.step_time_s);
}

TEST_CASE("the precisions searched come from the options, the scenario's list, or its precision", "[planner]") {
  auto json = kJob;
  CHECK(searched_precisions(test::scenario_from(json), {}) == std::vector<Precision>{Precision::bf16});
  json["training"]["search_precisions"] = {"fp8", "bf16"};
  const auto listed = test::scenario_from(json);
  CHECK(listed.search_precisions == std::vector<Precision>{Precision::fp8, Precision::bf16});
  CHECK(searched_precisions(listed, {}) == std::vector<Precision>{Precision::bf16, Precision::fp8});
  CHECK(searched_precisions(listed, {Precision::fp8}) == std::vector<Precision>{Precision::fp8});
  // The quick space keeps the file's precision.
  PlanSearchOptions quick;
  quick.quick = true;
  quick.rerank_tier = Tier::analytical;
  CHECK(search_plans(listed, test::catalogs(), quick).precisions == std::vector<Precision>{Precision::bf16});
  // A precision the chip does not run is refused, from the options and in the file (with its JSON path).
  CHECK_THROWS_WITH(searched_precisions(listed, {Precision::mxfp8}), Catch::Contains("h100-sxm has no mxfp8"));
  json["training"]["search_precisions"] = {"bf16", "mxfp8"};
  CHECK_THROWS_WITH(test::scenario_from(json), Catch::Contains("/training/search_precisions/1") &&
                                                   Catch::Contains("no mxfp8 tensor cores"));
  json["training"]["search_precisions"] = {"fp9"};
  CHECK_THROWS_WITH(test::scenario_from(json), Catch::Contains("/training/search_precisions/0") &&
                                                   Catch::Contains("unknown precision \"fp9\""));
  json["training"]["search_precisions"] = nlohmann::json::array();
  CHECK_THROWS_WITH(test::scenario_from(json), Catch::Contains("/training/search_precisions"));
}

}  // namespace flopcast
