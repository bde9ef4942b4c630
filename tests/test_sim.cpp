// Tiers 2 and 3 against tier 1 and against each other, the schedules against their formulas, invariants of the
// simulation (bandwidth, stragglers) and the trace file.

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "flopcast/core/files.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/models/memory.hpp"
#include "flopcast/models/schedule.hpp"
#include "flopcast/studies/planner.hpp"
#include "helpers.hpp"

namespace flopcast {
namespace {

using Catch::Matchers::WithinRel;
using test::catalogs;

std::vector<std::filesystem::path> shipped() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios/shipped")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST_CASE("with overlap and contention off tier 2 equals tier 1 within 1% on every shipped scenario", "[sim][tiers]") {
  for (const auto& file : shipped()) {
    const auto scenario = load_scenario(file, catalogs());
    SimOptions replica;
    replica.overlap = false;
    replica.contention = false;
    replica.whole_run = false;  // step times only
    const auto two = simulate_scenario(scenario, catalogs(), replica);
    const auto one = estimate_training(scenario.job, catalogs().assumptions, EstimateOptions{false});
    INFO(file.filename().string() << ": tier 1 " << one.step_time_s << " s, tier 2 " << two.estimate.step_time_s
                                  << " s");
    // 1 %, but 1.5 % for DualPipe with unequal stages (the DeepSeek-V3 scenarios: the last stage holds one layer, the
    // head and the MTP module). Tier 1 walks the schedule with the pipeline hops left out of its dependencies and adds
    // them to the step on their own; tier 2 sends each hop inside the chain, and a DualPipe pair waits for both of
    // its inputs, so with unequal stages a late hop can hold up a whole pair (Ascend 910B: tier 2 1.3 % slower).
    // Carrying the hops in tier 1's walk is the fix, and it moves every calibrated tier-1 number: not done yet. The
    // heavier the MoE stages against the last one, the larger the gap: 2 % (910C 1.7 %, H20 1.8 % since the grouped
    // expert GEMMs' calibration).
    const bool unequal_dualpipe =
        scenario.job.plan.schedule == Schedule::dualpipe && scenario.job.plan.layout != PipelineLayout::even;
    CHECK_THAT(two.estimate.step_time_s, WithinRel(one.step_time_s, unequal_dualpipe ? 0.02 : 0.01));
  }
}

TEST_CASE("a DualPipe pair hides its all-to-alls at tier 2 as tier 1 does", "[sim][tiers]") {
  // Every shipped DualPipe scenario, overlap and contention on: tier 2 within 10 % of tier 1 (2-8 % above it: the
  // pipeline hops and link sharing tier 1 leaves out). When a pair ran as two free-running lanes sharing the chip,
  // they fell into step and DeepSeek-V3 on 2,048 H800 came out 23 % above tier 1, with 4.8 s of exposed all-to-all.
  int dualpipe = 0;
  for (const auto& file : shipped()) {
#ifdef FLOPCAST_SANITIZED
    // Under the sanitizers SimGrid's actors run on threads, about 40 s a scenario: the one the two lanes got wrong.
    if (file.filename() != "deepseek-v3-h800.json") continue;
#endif
    const auto scenario = load_scenario(file, catalogs());
    if (scenario.job.plan.schedule != Schedule::dualpipe) continue;
    ++dualpipe;
    SimOptions options;
    options.whole_run = false;
    const auto two = simulate_scenario(scenario, catalogs(), options);
    const auto one = estimate_training(scenario.job, catalogs().assumptions);
    INFO(file.filename().string() << ": tier 1 " << one.step_time_s << " s, tier 2 " << two.estimate.step_time_s
                                  << " s");
    CHECK_THAT(two.estimate.step_time_s, WithinRel(one.step_time_s, 0.10));
    // The plan search's floor for the class (kTierGap1F1B, 4 %): tier 2 never that much faster than tier 1.
    CHECK(two.estimate.step_time_s >= (1.0 - kTierGap1F1B) * one.step_time_s);
  }
#ifdef FLOPCAST_SANITIZED
  CHECK(dualpipe == 1);
#else
  CHECK(dualpipe >= 5);
#endif
}

// A 64-chip Llama-3-70B job on 8 HGX H100 nodes; `plan` overrides the parallelism.
Scenario llama70b_64(const std::string& plan_json = R"({"tp": 8, "pp": 2, "sp": true})") {
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "training": {"seq_len": 4096, "global_batch": 64, "precision": "bf16", "tokens": 1e12}})");
  json["parallelism"] = nlohmann::json::parse(plan_json);
  return test::scenario_from(json);
}

TEST_CASE("ZB-H1 shortens 1F1B's step at both tiers, which agree as 1F1B's do", "[sim][tiers]") {
  // Llama-3-70B on 64 H100, tp 8, pp 4, 16 micro-batches per replica: the same work, a shorter drain.
  const auto one_f_one_b = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true})");
  const auto zb = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true, "schedule": "zb-h1"})");
  SimOptions options;
  options.whole_run = false;
  const double zb_one = estimate_training(zb.job, catalogs().assumptions).step_time_s;
  const double zb_two = simulate_scenario(zb, catalogs(), options).estimate.step_time_s;
  const double base_one = estimate_training(one_f_one_b.job, catalogs().assumptions).step_time_s;
  const double base_two = simulate_scenario(one_f_one_b, catalogs(), options).estimate.step_time_s;
  INFO("ZB-H1 tier 1 " << zb_one << " s, tier 2 " << zb_two << " s; 1F1B tier 1 " << base_one << " s, tier 2 "
                       << base_two << " s");
  CHECK(zb_one < base_one);
  CHECK(zb_two < base_two);
  // The planner's floor for the class (kTierGap1F1B, 4 %): tier 2 never that much faster than tier 1.
  CHECK(zb_two >= (1.0 - kTierGap1F1B) * zb_one);
  CHECK_THAT(zb_two, WithinRel(zb_one, 0.05));
}

TEST_CASE("block recomputation redoes the first layers of each stage at tier 2 as at tier 1", "[sim][tiers]") {
  // Llama-3-70B on 64 H100, tp 8, pp 4 (20 layers a stage): the first 5 of each stage's layers recomputed.
  auto none = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true})");
  auto full = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true, "recompute": "full"})");
  auto block = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true, "recompute": "full", "recompute_layers": 5})");
  SimOptions options;
  options.whole_run = false;
  const auto compute = [&](const Scenario& s) { return simulate_scenario(s, catalogs(), options).estimate; };
  const auto none_two = compute(none);
  const auto full_two = compute(full);
  const auto block_two = compute(block);
  // The busiest device's compute: 5 of its 20 layers' forwards again, a quarter of full recomputation's extra.
  CHECK_THAT(block_two.breakdown.compute_s() - none_two.breakdown.compute_s(),
             WithinRel(0.25 * (full_two.breakdown.compute_s() - none_two.breakdown.compute_s()), 1e-6));
  CHECK_THAT(block_two.step_time_s, WithinRel(estimate_training(block.job, catalogs().assumptions).step_time_s, 0.04));
}

TEST_CASE("tier 2 runs the backward's column-parallel TP collectives beside the GEMMs without userbuffers",
          "[sim][tiers]") {
  // Llama-3-70B on 64 H100, tp 8 with SP, no userbuffers overlap. Blocking, a layer's forward exposes F of TP time and
  // its backward F. Asynchronous, the row-parallel gradient all-gather (F / 2) still blocks and the rest is posted
  // beside the backward GEMMs: at least 3/4 of the blocking exposure stays (F + F / 2 of 2 F), and less than all.
  auto async = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true})");
  auto blocking = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true, "tp_async_backward": false})");
  REQUIRE(!async.job.plan.tp_comm_overlap);
  SimOptions options;
  options.whole_run = false;
  const double async_tp = simulate_scenario(async, catalogs(), options).estimate.breakdown.tp_s;
  const double blocking_tp = simulate_scenario(blocking, catalogs(), options).estimate.breakdown.tp_s;
  INFO("exposed TP at tier 2: asynchronous " << async_tp << " s, blocking " << blocking_tp << " s");
  REQUIRE(blocking_tp > 0);
  CHECK(async_tp < blocking_tp);
  CHECK(async_tp >= 0.75 * blocking_tp * (1.0 - 1e-9));
}

TEST_CASE("ZB-V's two stages per device shorten ZB-H1's step at both tiers, which agree as 1F1B's do",
          "[sim][tiers]") {
  // Llama-3-70B on 64 H100, tp 8, pp 4 (8 virtual stages of 10 layers), 16 micro-batches per replica.
  const auto zbh1 = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true, "schedule": "zb-h1"})");
  const auto zbv = llama70b_64(R"({"tp": 8, "pp": 4, "sp": true, "schedule": "zb-v"})");
  SimOptions options;
  options.whole_run = false;
  const double v_one = estimate_training(zbv.job, catalogs().assumptions).step_time_s;
  const double v_two = simulate_scenario(zbv, catalogs(), options).estimate.step_time_s;
  const double h1_one = estimate_training(zbh1.job, catalogs().assumptions).step_time_s;
  const double h1_two = simulate_scenario(zbh1, catalogs(), options).estimate.step_time_s;
  INFO("ZB-V tier 1 " << v_one << " s, tier 2 " << v_two << " s; ZB-H1 tier 1 " << h1_one << " s, tier 2 " << h1_two
                      << " s");
  CHECK(v_one < h1_one);
  CHECK(v_two < h1_two);
  CHECK(v_two >= (1.0 - tier_gap(zbv.job.plan)) * v_one);
  CHECK_THAT(v_two, WithinRel(v_one, 0.05));
  // The same memory as ZB-H1 and 1F1B: pp micro-batches in flight, through both of a device's stages.
  const auto params = count_params(zbv.job.model);
  CHECK_THAT(training_memory(zbv.job, params, catalogs().assumptions).activations_bytes,
             WithinRel(training_memory(zbh1.job, params, catalogs().assumptions).activations_bytes, 0.02));
}

TEST_CASE("on a symmetric 64-chip setup tier 3 equals tier 2 within 1%", "[sim][tiers]") {
  for (const char* plan : {R"({"tp": 8, "pp": 2, "sp": true})", R"({"tp": 4, "pp": 4, "sp": true, "schedule": "interleaved", "vpp": 2})",
                           R"({"tp": 8, "pp": 1, "zero": 1})"}) {
    const auto s = llama70b_64(plan);
    SimOptions replica;
    SimOptions full;
    full.tier = Tier::full;
    const auto two = simulate_scenario(s, catalogs(), replica);
    const auto three = simulate_scenario(s, catalogs(), full);
    INFO(plan << ": tier 2 " << two.estimate.step_time_s << " s, tier 3 " << three.estimate.step_time_s << " s");
    CHECK_THAT(three.estimate.step_time_s, WithinRel(two.estimate.step_time_s, 0.01));
    CHECK(three.devices.size() == 64);
  }
}

TEST_CASE("waits on links nothing else uses give what their flows give, with fewer activities", "[sim][invariant]") {
  // A transfer on links free of other flows waits out latency + bytes / bandwidth at once; a flow that starts on one
  // of its links meanwhile wakes it, and the rest goes on as flows. Against every transfer simulated as flows: every
  // shipped scenario at tier 2 (overlap and contention on: TP, CP, EP, PP and DP streams sharing a device's links),
  // and tier 3 with its rings sharing NICs and leaf uplinks.
  const auto compare = [](const Scenario& s, SimOptions with, const std::string& name) {
    with.whole_run = false;
    SimOptions flows = with;
    flows.lone_link_waits = false;
    const auto fast = simulate_scenario(s, catalogs(), with);
    const auto reference = simulate_scenario(s, catalogs(), flows);
    INFO(name << ": " << fast.estimate.step_time_s << " s in " << fast.simulated_activities << " activities, flows "
              << reference.estimate.step_time_s << " s in " << reference.simulated_activities);
    CHECK_THAT(fast.estimate.step_time_s, WithinRel(reference.estimate.step_time_s, 1e-6));
    CHECK(fast.simulated_activities < reference.simulated_activities);
    for (std::size_t i = 0; i < fast.devices.size(); ++i) {
      CHECK_THAT(fast.devices[i].busy_tp_s + fast.devices[i].busy_dp_s + fast.devices[i].busy_pp_s,
                 WithinRel(reference.devices[i].busy_tp_s + reference.devices[i].busy_dp_s +
                               reference.devices[i].busy_pp_s,
                           1e-6));
    }
  };
  for (const auto& file : shipped()) compare(load_scenario(file, catalogs()), {}, file.filename().string());
  SimOptions full;
  full.tier = Tier::full;
  compare(llama70b_64(R"({"tp": 4, "pp": 2, "sp": true, "zero": 1})"), full, "tier 3");
}

TEST_CASE("tier 3 routes through pods of a three-tier fabric and across planes", "[sim][tiers]") {
  // 64 H100 in 8 nodes, pure data parallel (the gradients cross the fabric), on 8-port switches so that the fabric
  // has several leaves and pods.
  auto s = llama70b_64(R"({"tp": 8, "pp": 1, "zero": 1})");
  s.job.cluster.fabric.switch_radix.value = 8;
  const auto used = [](const SimResult& result, const std::string& prefix) {
    for (const auto& link : result.busiest_links) {
      if (link.name.rfind(prefix, 0) == 0 && link.bytes > 0) return true;
    }
    return false;
  };
  SimOptions full;
  full.tier = Tier::full;
  full.busiest_links = 1 << 20;  // every link
  // Non-blocking (4 ports down, 4 up): 64 NICs on 16 leaves; rings stay on their rail, so inside a pod here. Tier 3
  // matches tier 2, which sees the fabric through its bisection.
  for (TopologyKind kind : {TopologyKind::fat_tree_3, TopologyKind::multi_plane_2}) {
    s.job.cluster.topology = kind;
    const auto three = simulate_scenario(s, catalogs(), full);
    const auto two = simulate_scenario(s, catalogs());
    INFO(to_string(kind) << ": tier 2 " << two.estimate.step_time_s << " s, tier 3 " << three.estimate.step_time_s);
    CHECK_THAT(three.estimate.step_time_s, WithinRel(two.estimate.step_time_s, 0.01));
    CHECK(used(three, "leaf"));
    CHECK_FALSE(used(three, "pod"));
  }
  // 5 ports down, 3 up: a pod (4 leaves) holds 20 NICs, so rail 2 (NICs 16-23 in rail-major order) spans pods 0 and 1
  // and its ring crosses the core.
  s.job.cluster.topology = TopologyKind::fat_tree_3;
  s.job.cluster.oversubscription = 5.0 / 3.0;
  CHECK(used(simulate_scenario(s, catalogs(), full), "pod"));
}

TEST_CASE("more bandwidth is never slower in the simulation", "[sim][invariant]") {
  const auto s = llama70b_64(R"({"tp": 4, "pp": 2, "sp": true})");
  const double base = simulate_scenario(s, catalogs()).estimate.step_time_s;
  for (double factor : {1.5, 4.0}) {
    auto faster = s;
    faster.job.cluster.node.scaleup_bandwidth_per_direction.value *= factor;
    faster.job.cluster.node.nic_bandwidth.value *= factor;
    faster.job.cluster.fabric.port_bandwidth.value *= factor;
    CHECK(simulate_scenario(faster, catalogs()).estimate.step_time_s <= base * (1 + 1e-9));
  }
}

TEST_CASE("a straggler factor of 1 changes nothing and a straggler slows the synchronous step", "[sim][invariant]") {
  const auto s = llama70b_64(R"({"tp": 8, "pp": 1, "zero": 1})");
  SimOptions full;
  full.tier = Tier::full;
  const double base = simulate_scenario(s, catalogs(), full).estimate.step_time_s;
  full.stragglers = {{5, 1.0, 1.0}};
  CHECK(simulate_scenario(s, catalogs(), full).estimate.step_time_s == base);
  // Chip 5 computes 1.2x slower: every TP and DP collective waits for it, so the whole step takes about as long as
  // that chip's own work: its compute (a 1.2 share of it) plus the communication that does not shrink.
  full.stragglers = {{5, 1.2, 1.0}};
  const auto slow = simulate_scenario(s, catalogs(), full);
  const double compute = slow.devices[0].compute_s;  // a normal chip's kernel time
  CHECK_THAT(slow.estimate.step_time_s, WithinRel(base + 0.2 * compute, 0.02));
  // In tier 2 a slow stage representative has the same effect.
  SimOptions replica;
  replica.stragglers = {{0, 1.2, 1.0}};
  CHECK_THAT(simulate_scenario(s, catalogs(), replica).estimate.step_time_s, WithinRel(slow.estimate.step_time_s, 0.02));
}

Scenario mixed_fleet(const nlohmann::json& group) {
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "parallelism": {"tp": 8, "pp": 2, "sp": true},
    "training": {"seq_len": 4096, "global_batch": 64, "precision": "bf16", "tokens": 1e12}})");
  json["cluster"]["stage_chips"] = nlohmann::json::array({group});
  return test::scenario_from(json);
}

TEST_CASE("a mixed fleet runs each pipeline stage at its own chip's speed", "[sim][tiers]") {
  const auto all_h100 = llama70b_64();
  const auto mixed = mixed_fleet({{"stages", {1}}, {"chip", "b200"}});
  REQUIRE(mixed.job.cluster.stage_group(1) != nullptr);
  CHECK(mixed.job.cluster.for_stage(1).node.id == "hgx-b200");  // the chip's default node
  CHECK(mixed.job.cluster.for_stage(0).chip.id == "h100-sxm");
  // A B200 stage is faster, but the pipeline waits for the H100 stage: faster than all-H100, slower than half.
  for (Tier tier : {Tier::analytical, Tier::replica, Tier::full}) {
    SimOptions options;
    options.tier = tier;
    const double with_b200 = simulate_scenario(mixed, catalogs(), options).estimate.step_time_s;
    const double h100 = simulate_scenario(all_h100, catalogs(), options).estimate.step_time_s;
    INFO(to_string(tier) << ": mixed " << with_b200 << " s, all H100 " << h100 << " s");
    CHECK(with_b200 < h100);
    CHECK(with_b200 > 0.5 * h100);
  }
  // With overlap and contention off, tier 2 follows tier 1 on the mixed fleet too.
  SimOptions plain;
  plain.overlap = false;
  plain.contention = false;
  CHECK_THAT(simulate_scenario(mixed, catalogs(), plain).estimate.step_time_s,
             WithinRel(estimate_training(mixed.job, catalogs().assumptions, EstimateOptions{false}).step_time_s, 0.01));
}

TEST_CASE("a mixed fleet is priced and powered stage by stage", "[sim][cost]") {
  const auto h100 = llama70b_64();
  const auto mixed = mixed_fleet({{"stages", {1}}, {"chip", "b200"}, {"usd_per_chip_hour", 6.0}});
  const auto one = run_scenario(h100, catalogs());
  const auto two = run_scenario(mixed, catalogs());
  // Rental: 32 H100 at the scenario's price and 32 B200 at $6, per hour of training.
  const double h100_rate = h100.job.costs.usd_per_chip_hour;
  const double hours = two.train_s / 3600.0;
  CHECK_THAT(two.energy_cost.cost_usd, WithinRel((32 * h100_rate + 32 * 6.0) * hours, 1e-9));
  CHECK_THAT(one.energy_cost.cost_usd, WithinRel(64 * h100_rate * one.train_s / 3600.0, 1e-9));
  // Power: the B200 stage draws its own TDP (1000 W against 700 W), so more watts than all-H100.
  CHECK(two.energy_cost.facility_power_w > one.energy_cost.facility_power_w);
  // MFU against the fleet's mean bf16 peak: (989 + 2250) / 2 TFLOP/s for H100 + B200 (dense).
  const double mean_peak = (h100.job.cluster.chip.peak_flop_per_s(DataType::bf16) +
                            mixed.job.cluster.for_stage(1).chip.peak_flop_per_s(DataType::bf16)) / 2.0;
  CHECK_THAT(two.mfu, WithinRel(two.model_flop_per_s_per_chip / mean_peak, 1e-12));
}

TEST_CASE("a mixed fleet's memory check uses each stage's own chip", "[sim][memory]") {
  // Llama-3-70B, tp 8 pp 2, no recompute: too big for 80 GB H100s; moving the fuller stage 0 to 141 GB H200s
  // leaves stage 1 (on H100) as the one reported.
  const auto h100 = llama70b_64();
  const auto mixed = mixed_fleet({{"stages", {0}}, {"chip", "h200-sxm"}});
  const auto one = run_scenario(h100, catalogs());
  const auto two = run_scenario(mixed, catalogs());
  CHECK(one.memory.stage == 0);
  CHECK(two.memory.stage == 1);
  CHECK(two.memory.capacity_bytes == h100.job.cluster.chip.hbm_capacity.value);
  CHECK(two.memory.margin_bytes > one.memory.margin_bytes);
}

TEST_CASE("mixed fleet errors name the JSON path", "[sim][scenario]") {
  const auto errors = [](const nlohmann::json& group) {
    return test::join_lines(test::messages_of([&] { mixed_fleet(group); }));
  };
  CHECK(errors({{"stages", {2}}, {"chip", "b200"}}) ==
        "/cluster/stage_chips/0/stages: stage 2 does not exist: the pipeline has stages 0 to 1\n");
  CHECK(errors({{"stages", nlohmann::json::array()}, {"chip", "b200"}}) ==
        "/cluster/stage_chips/0/stages: expected a non-empty array of pipeline stage numbers, got an array\n");
  CHECK(errors({{"stages", {1}}, {"chip", "b400"}}).find("/cluster/stage_chips/0/chip: unknown chip \"b400\"") == 0);
  CHECK(errors({{"stages", {1}}, {"chip", "b200"}, {"node", "hgx-h100"}}) ==
        "/cluster/stage_chips/0/node: node \"hgx-h100\" holds h100-sxm chips, not b200\n");
  CHECK(errors({{"stages", {1}}, {"chip", "gb200"}}).find("every stage's nodes must hold the "
                                                                                 "same number") != std::string::npos);
  CHECK(errors({{"stages", {1}}, {"chip", "b200"}, {"chip_capex_usd", 1}}) ==
        "/cluster/stage_chips/0/chip_capex_usd: applies to ownership costs; this scenario rents (give "
        "usd_per_chip_hour)\n");
  CHECK(errors({{"stages", {1}}, {"chip", "b200"}, {"colour", "red"}}).find("/cluster/stage_chips/0/colour") == 0);
  auto twice = nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64, "stage_chips": [{"stages": [1], "chip": "b200"},
                                                               {"stages": [1], "chip": "h200-sxm"}]},
    "parallelism": {"tp": 8, "pp": 2, "sp": true},
    "training": {"seq_len": 4096, "global_batch": 64, "tokens": 1e12}})");
  CHECK(test::join_lines(test::messages_of([&] { test::scenario_from(twice); })) ==
        "/cluster/stage_chips/1/stages: stage 1 is already given to /cluster/stage_chips/0\n");
  // FP8 training needs FP8 units on every stage's chip: the A100 has none.
  auto fp8 = nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64, "stage_chips": [{"stages": [1], "chip": "a100-sxm-80gb"}]},
    "parallelism": {"tp": 8, "pp": 2, "sp": true},
    "training": {"seq_len": 4096, "global_batch": 64, "tokens": 1e12, "precision": "fp8"}})");
  CHECK(test::join_lines(test::messages_of([&] { test::scenario_from(fp8); })) ==
        "/cluster/stage_chips/0/chip: a100-sxm-80gb has no fp8 tensor cores (no fp8 peak in the catalog); use "
        "\"bf16\" training\n");
}

TEST_CASE("1F1B and interleaved bubbles follow the schedules' formulas", "[sim][schedule]") {
  // Equal stages, F = 1 s, B = 2 s, no transfers: 1F1B takes (M + pp - 1)(F + B); with pp = 4 and M = 8: 33 s.
  const auto one = make_schedule(Schedule::one_f_one_b, 4, 1, 8);
  CHECK_THAT(pipeline_makespan_s(one, std::vector<PassTimes>(4, {1.0, 2.0, 1.0})), WithinRel(33.0, 1e-12));
  // GPipe has the same bubble: (8 + 3) x 3 = 33 s.
  const auto gpipe = make_schedule(Schedule::gpipe, 4, 1, 8);
  CHECK_THAT(pipeline_makespan_s(gpipe, std::vector<PassTimes>(4, {1.0, 2.0, 1.0})), WithinRel(33.0, 1e-12));
  // Interleaved, vpp = 2: each chunk half the work (F 0.5, B 1); bubble (pp - 1)(F + B)/vpp = 4.5 s on 24 s of work.
  const auto inter = make_schedule(Schedule::interleaved, 4, 2, 8);
  CHECK_THAT(pipeline_makespan_s(inter, std::vector<PassTimes>(8, {0.5, 1.0, 0.5})), WithinRel(28.5, 1e-12));
  // Every device runs each of its virtual stages' forwards and backwards once per micro-batch.
  for (const auto& ops : inter.ops) CHECK(ops.size() == 2u * 8u * 2u);
}

TEST_CASE("combined 1F1B runs one more warm-up forward, then forward-backward pairs", "[sim][schedule]") {
  // pp 1, M = 4: F, then (F2 & B1), (F3 & B2), (F4 & B3), then B4: Megatron's combined 1F1B without a pipeline.
  const auto flat = make_schedule(Schedule::one_f_one_b, 1, 1, 4, true);
  REQUIRE(flat.ops[0].size() == 5u);
  CHECK(flat.ops[0].front().kind == OpKind::forward);
  for (std::size_t i = 1; i < 4; ++i) CHECK(flat.ops[0][i].kind == OpKind::pair);
  CHECK(flat.ops[0].back().kind == OpKind::backward);
  // Pairs run one pass after the other in tier 1, so the makespan stays M (F + B): 4 x 3 = 12 s.
  CHECK_THAT(pipeline_makespan_s(flat, {{1.0, 2.0, 1.0}}), WithinRel(12.0, 1e-12));
  // Interleaved, pp 4, vpp 2, M = 8: device d runs 2 (4 - d - 1) + 4 + 1 warm-up forwards (one more than plain),
  // and the order never deadlocks (the pair's backward never waits for its own forward).
  const auto inter = make_schedule(Schedule::interleaved, 4, 2, 8, true);
  for (int d = 0; d < 4; ++d) {
    const auto& ops = inter.ops[static_cast<std::size_t>(d)];
    const auto first_pair = std::find_if(ops.begin(), ops.end(), [](const PipelineOp& op) { return op.kind == OpKind::pair; });
    CHECK(first_pair - ops.begin() == 2 * (4 - d - 1) + 4 + 1);
  }
  CHECK(pipeline_makespan_s(inter, std::vector<PassTimes>(8, {0.5, 1.0, 0.5})) > 24.0);
  CHECK_THROWS_AS(make_schedule(Schedule::one_f_one_b, 4, 1, 8, true), ModelError);
}

TEST_CASE("ZB-H1 cuts 1F1B's bubble to (pp - 1)(F + B - W) with no more micro-batches in flight", "[sim][schedule]") {
  // pp = 4, M = 8, F = 1 s, a whole backward 2 s of which the weight pass W = 1 s (B = 1 s without it). 1F1B:
  // (M + pp - 1)(F + B + W) = 11 x 3 = 33 s. ZB-H1 (Qi et al. 2024, section 3.1): 8 x 3 = 24 s of work and a bubble of
  // (pp - 1)(F + B - W) = 3 x (1 + 1 - 1) = 3 s: 27 s.
  const auto zb = make_schedule(Schedule::zero_bubble, 4, 1, 8);
  CHECK_THAT(pipeline_makespan_s(zb, std::vector<PassTimes>(4, {1.0, 2.0, 1.0})), WithinRel(27.0, 1e-12));
  for (int d = 0; d < 4; ++d) {
    // Every micro-batch's forward and backward once, and a weight pass for each split backward; micro-batches
    // holding activations (forward done, weight pass not) never exceed pp = 4.
    const auto& ops = zb.ops[static_cast<std::size_t>(d)];
    long forwards = 0, backwards = 0, splits = 0, weights = 0, held = 0, peak = 0;
    for (const auto& op : ops) {
      if (op.kind == OpKind::forward) ++forwards, ++held;
      if (op.kind == OpKind::backward) ++backwards, --held;
      if (op.kind == OpKind::backward_input) ++backwards, ++splits;
      if (op.kind == OpKind::weight) ++weights, --held;
      peak = std::max(peak, held);
    }
    CHECK(forwards == 8);
    CHECK(backwards == 8);
    CHECK(weights == splits);
    CHECK(peak <= 4);
    CHECK(splits == (d == 0 ? 0 : d + (4 - d - 1) + 1));  // device 0 never splits; d first steps, drain, last step
  }
  // With the weight pass as long as the rest of the backward the bubble is a third of 1F1B's when F = B = W:
  // 1F1B 3 x 3 = 9 s, ZB-H1 3 x 1 = 3 s.
  CHECK_THAT(pipeline_makespan_s(make_schedule(Schedule::one_f_one_b, 4, 1, 8), std::vector<PassTimes>(4, {1.0, 2.0, 1.0})),
             WithinRel(33.0, 1e-12));
}

TEST_CASE("ZB-V leaves only the first forwards' offset, with 1F1B's peak memory", "[sim][schedule]") {
  // pp = 4, M = 8, each of the 8 virtual stages (half a device's layers) F = 1 s, a whole backward 2 s of which the
  // weight pass W = 1 s: each device does 8 x 2 x 3 = 48 s of work. Device 3's first forward waits for stages 0-2's,
  // 3 s, and its work then fits without a gap: 51 s, the least any order can take (Qi et al. 2024, section 6: zero
  // bubble when F = B = W, besides that offset). The same layers as whole stages per device (F 2 s, backward 4 s with
  // W 2 s): ZB-H1 48 + 3 x (2 + 2 - 2) = 54 s, 1F1B (8 + 3) x 6 = 66 s.
  const auto zbv = make_schedule(Schedule::zero_bubble_v, 4, 1, 8);
  CHECK_THAT(pipeline_makespan_s(zbv, std::vector<PassTimes>(8, {1.0, 2.0, 1.0})), WithinRel(51.0, 1e-12));
  const std::vector<PassTimes> whole(4, {2.0, 4.0, 2.0});
  CHECK_THAT(pipeline_makespan_s(make_schedule(Schedule::zero_bubble, 4, 1, 8), whole), WithinRel(54.0, 1e-12));
  CHECK_THAT(pipeline_makespan_s(make_schedule(Schedule::one_f_one_b, 4, 1, 8), whole), WithinRel(66.0, 1e-12));
  // The V: device d holds stages d and 7 - d; every stage's forward, input-gradient and weight pass for each of the 8
  // micro-batches; at most 2 pp = 8 half micro-batches awaiting their weight pass, 1F1B's pp whole ones.
  for (int v = 0; v < 8; ++v) CHECK(zbv.stages[static_cast<std::size_t>(v)].device == (v < 4 ? v : 7 - v));
  for (int d = 0; d < 4; ++d) {
    long forwards = 0, inputs = 0, weights = 0, held = 0, peak = 0;
    for (const auto& op : zbv.ops[static_cast<std::size_t>(d)]) {
      if (op.kind == OpKind::forward) ++forwards, ++held;
      if (op.kind == OpKind::backward_input) ++inputs;
      if (op.kind == OpKind::weight) ++weights, --held;
      CHECK(op.kind != OpKind::backward);
      CHECK((op.stage < 0 || op.stage == d || op.stage == 7 - d));
      peak = std::max(peak, held);
    }
    CHECK(forwards == 16);
    CHECK(inputs == 16);
    CHECK(weights == 16);
    CHECK(peak <= 8);
  }
  // Fewer micro-batches than the 2 pp - 1 the order is laid out for: their passes alone, and it still runs.
  const auto few = make_schedule(Schedule::zero_bubble_v, 4, 1, 3);
  for (const auto& ops : few.ops) CHECK(ops.size() == 3u * 2 * 3);
  CHECK(pipeline_makespan_s(few, std::vector<PassTimes>(8, {1.0, 2.0, 1.0})) >= 3 * 6.0 + 3.0);
}

TEST_CASE("DualPipe's bubble is about (pp/2 - 1)(F&B + B - 3W)", "[sim][schedule]") {
  // pp = 8, M = 20 (the report's figure 5), F = 1, B = 2, W = 1 per micro-batch and stage; each device does
  // M/2 micro-batches through each of its two stages: 20 x 3 = 60 s of work. With F&B = F + B (no overlap
  // credited), the bubble is (8/2 - 1)(3 + 2 - 3) = 6 s; the order's critical path comes within one pass of it.
  const auto dual = make_schedule(Schedule::dualpipe, 8, 1, 20);
  const double makespan = pipeline_makespan_s(dual, std::vector<PassTimes>(16, {1.0, 2.0, 1.0}));
  CHECK(makespan >= 60.0 + 6.0 - 1.0);
  CHECK(makespan <= 60.0 + 6.0 + 1.0);
  // Both model copies get half the micro-batches on every stage.
  for (const auto& stage : dual.stages) CHECK(stage.micro_batches == 10);
  CHECK_THROWS_AS(make_schedule(Schedule::dualpipe, 7, 1, 20), ModelError);
}

TEST_CASE("a simulation stops when its cancel token is set, and runs to the end when it is not", "[sim][cancel]") {
  const auto s = llama70b_64();
  SimOptions options;
  std::atomic<bool> cancel{true};
  options.cancel = &cancel;
  // Set before the call: the engine process is killed at the first poll.
  CHECK_THROWS_AS(simulate_scenario(s, catalogs(), options), Cancelled);
  // Set from another thread while the engine runs (the GUI's Cancel button).
  cancel = false;
  std::thread stopper([&cancel] { cancel = true; });
  try {
    simulate_scenario(s, catalogs(), options);  // may finish before the flag is seen: both outcomes are fine
  } catch (const Cancelled&) {
  }
  stopper.join();
  // A token that stays clear changes nothing.
  cancel = false;
  SimOptions plain;
  CHECK(simulate_scenario(s, catalogs(), options).estimate.step_time_s ==
        simulate_scenario(s, catalogs(), plain).estimate.step_time_s);
}

TEST_CASE("a simulation reports its fraction done, rising to 1, and the same result", "[sim][cancel]") {
  const auto s = llama70b_64();
  std::vector<double> fractions;
  SimOptions options;
  options.progress = [&fractions](double f) { fractions.push_back(f); };
  const double step_s = simulate_scenario(s, catalogs(), options).estimate.step_time_s;
  // The parent polls every 50 ms: at least the last value (1, every pipeline operation simulated) is heard once the
  // child has finished, and the values never go down.
  REQUIRE(!fractions.empty());
  CHECK(fractions.back() == 1.0);
  CHECK(std::is_sorted(fractions.begin(), fractions.end()));
  CHECK(fractions.front() >= 0.0);
  CHECK(step_s == simulate_scenario(s, catalogs(), SimOptions{}).estimate.step_time_s);
}

TEST_CASE("the trace file is valid JSON with a track per stream per device", "[sim][trace]") {
  const auto s = llama70b_64(R"({"tp": 8, "pp": 2, "sp": true})");
  SimOptions options;
  options.record_trace = true;
  const auto result = simulate_scenario(s, catalogs(), options);
  const auto path = std::filesystem::temp_directory_path() / "flopcast-test-trace.json";
  write_chrome_trace(result, path.string());
  const auto trace = read_json_file(path);
  std::filesystem::remove(path);
  std::set<std::pair<int, std::string>> tracks;
  int complete = 0;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("ph") == "M" && e.at("name") == "thread_name") tracks.insert({e.at("pid").get<int>(), e.at("args").at("name").get<std::string>()});
    if (e.at("ph") == "X") {
      ++complete;
      CHECK(e.at("dur").get<double>() >= 0);
    }
  }
  for (int device : {0, 1}) {
    for (const char* stream : {"compute", "tp", "pp", "dp"}) CHECK(tracks.count({device, stream}) == 1);
  }
  CHECK(complete > 100);
}

TEST_CASE("with overlap on, tier 2 still exposes what the plan does not overlap", "[sim][overlap]") {
  SimOptions options;
  options.contention = false;  // each kind of traffic on links of its own: the exposed times are the transfers'
  options.whole_run = false;
  SECTION("dp_overlap false: the gradient reduction after the flush and the parameter gather before the forward") {
    // tp 8, pp 2, dp 4, ZeRO-1: tier 1 then exposes gradients + parameters in full, and tier 2 must expose as much.
    const auto hidden =
        simulate_scenario(llama70b_64(R"({"tp": 8, "pp": 2, "sp": true, "zero": 1})"), catalogs(), options);
    const auto s = llama70b_64(R"({"tp": 8, "pp": 2, "sp": true, "zero": 1, "dp_overlap": false})");
    const auto exposed = simulate_scenario(s, catalogs(), options);
    const auto one = estimate_training(s.job, catalogs().assumptions, EstimateOptions{true});
    INFO("tier 1 DP " << one.breakdown.dp_s << " s; tier 2 DP " << exposed.estimate.breakdown.dp_s << " s, "
                      << hidden.estimate.breakdown.dp_s << " s overlapped");
    REQUIRE(one.breakdown.dp_s > 0);
    CHECK_THAT(exposed.estimate.breakdown.dp_s, WithinRel(one.breakdown.dp_s, 0.02));
    CHECK(hidden.estimate.breakdown.dp_s < 0.5 * exposed.estimate.breakdown.dp_s);
  }
  SECTION("1F1B pipeline sends are synchronous; interleaved ones run behind the compute") {
    CHECK_FALSE(overlaps_pipeline_sends(Schedule::gpipe));
    CHECK_FALSE(overlaps_pipeline_sends(Schedule::one_f_one_b));
    CHECK(overlaps_pipeline_sends(Schedule::interleaved));
    CHECK(overlaps_pipeline_sends(Schedule::dualpipe));
    // 64 sequences over dp 4: M = 16 micro-batches. Tier 1's 1F1B term is 2 (M + pp - 1) hops = 34 hops, so one
    // hop is pp_s / 34; in tier 2 the first stage blocks on each of its 16 forward sends: 16 hops exposed.
    const auto s = llama70b_64(R"({"tp": 8, "pp": 2, "sp": true})");
    const auto one = estimate_training(s.job, catalogs().assumptions, EstimateOptions{true});
    const double hop_s = one.breakdown.pp_s / 34.0;
    REQUIRE(hop_s > 0);
    const auto two = simulate_scenario(s, catalogs(), options);
    CHECK_THAT(two.devices.front().exposed_pp_s, WithinRel(16.0 * hop_s, 0.02));
    const auto interleaved =
        simulate_scenario(llama70b_64(R"({"tp": 8, "pp": 2, "sp": true, "schedule": "interleaved", "vpp": 2})"),
                          catalogs(), options);
    CHECK(interleaved.devices.front().exposed_pp_s < 0.1 * two.devices.front().exposed_pp_s);
  }
  SECTION("pp_comm_overlap false: the interleaved schedule's sends block as 1F1B's do") {
    // pp 2, vpp 2, M = 16: tier 1 counts 2 (M vpp + pp - 1) = 66 hops. In tier 2 the first device holds chunks 0 and
    // 2 and blocks on each of its sends: chunk 0's and chunk 2's forwards (16 each) and chunk 2's backward (16).
    const auto s = llama70b_64(
        R"({"tp": 8, "pp": 2, "sp": true, "schedule": "interleaved", "vpp": 2, "pp_comm_overlap": false})");
    CHECK_FALSE(s.job.plan.overlaps_sends());
    const auto one = estimate_training(s.job, catalogs().assumptions, EstimateOptions{true});
    const double hop_s = one.breakdown.pp_s / 66.0;
    REQUIRE(hop_s > 0);
    const auto two = simulate_scenario(s, catalogs(), options);
    CHECK_THAT(two.devices.front().exposed_pp_s, WithinRel(48.0 * hop_s, 0.02));
  }
}

TEST_CASE("the simulation reports busy fractions that add up and the busiest links", "[sim]") {
  const auto s = llama70b_64(R"({"tp": 8, "pp": 2, "sp": true})");
  const auto r = simulate_scenario(s, catalogs());
  REQUIRE(r.devices.size() == 2);
  for (const auto& d : r.devices) {
    const double sum = d.compute_s + d.exposed_tp_s + d.exposed_cp_s + d.exposed_ep_s + d.exposed_pp_s +
                       d.exposed_dp_s + d.bubble_s + d.optimizer_s + d.idle_s;
    CHECK_THAT(sum, WithinRel(r.estimate.step_time_s, 1e-6));
  }
  // DualPipe: a pair's all-to-alls run on the EP stream beside its kernels, and the shares still add up to the step
  // (they came to 104-111 % of it per device, when a pair ran as two lanes, before the waits were cut to the compute
  // stream's free time).
  const auto dual = simulate_scenario(llama70b_64(R"({"tp": 8, "pp": 4, "sp": true, "schedule": "dualpipe"})"), catalogs());
  double largest_bubble = 0;
  for (const auto& d : dual.devices) {
    const double sum = d.compute_s + d.exposed_tp_s + d.exposed_cp_s + d.exposed_ep_s + d.exposed_pp_s +
                       d.exposed_dp_s + d.bubble_s + d.optimizer_s + d.idle_s;
    CHECK_THAT(sum, WithinRel(dual.estimate.step_time_s, 1e-6));
    largest_bubble = std::max(largest_bubble, d.bubble_s);
  }
  CHECK(largest_bubble > 0);
  // ZB-H1: the split backwards' weight passes run from the device's queue; the shares add up as well.
  const auto zb = simulate_scenario(llama70b_64(R"({"tp": 8, "pp": 4, "sp": true, "schedule": "zb-h1"})"), catalogs());
  for (const auto& d : zb.devices) {
    const double sum = d.compute_s + d.exposed_tp_s + d.exposed_cp_s + d.exposed_ep_s + d.exposed_pp_s +
                       d.exposed_dp_s + d.bubble_s + d.optimizer_s + d.idle_s;
    CHECK_THAT(sum, WithinRel(zb.estimate.step_time_s, 1e-6));
  }
  REQUIRE(!r.busiest_links.empty());
  CHECK(r.busiest_links.front().utilisation > 0);
  CHECK(r.busiest_links.front().utilisation <= 1.0 + 1e-9);
  CHECK_THAT(r.estimate.breakdown.total_s(), WithinRel(r.estimate.step_time_s, 1e-6));
}

}  // namespace
}  // namespace flopcast
