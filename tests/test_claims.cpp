// Claims: loading, the verdict rules, sums and ratios, and what would have to be true.

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <unistd.h>

#include "flopcast/core/human_units.hpp"
#include "flopcast/studies/claims.hpp"
#include "helpers.hpp"

namespace flopcast {

namespace {

namespace fs = std::filesystem;

// A claim file in a fresh folder, naming the shipped H800 DeepSeek-V3 scenario; returns its path.
fs::path write_claim(const nlohmann::json& checks, const std::string& name = "claim.json") {
  // One folder per process: ctest runs test cases in parallel processes.
  static int calls = 0;
  const auto dir = fs::temp_directory_path() / fmt::format("flopcast-claims-test-{}-{}", ::getpid(), ++calls);
  fs::create_directories(dir);
  const auto file = dir / name;
  std::ofstream(file) << nlohmann::json{{"claim", "a test claim"}, {"source", "the test"}, {"checks", checks}}.dump();
  return file;
}

const std::string kShipped = std::string(FLOPCAST_SOURCE_ROOT) + "/scenarios/shipped/deepseek-v3-h800.json";

ClaimResult evaluate(const nlohmann::json& checks) {
  return evaluate_claim(load_claim(write_claim(checks), test::catalogs()), test::catalogs(), Tier::analytical);
}

}  // namespace

TEST_CASE("a claimed value inside the interval is consistent and one outside is not", "[claims]") {
  const auto base = evaluate({{{"label", "cost"}, {"scenario", kShipped}, {"metric", "cost_usd"}}});
  const auto& c = base.checks.at(0);
  CHECK(c.verdict == Verdict::none);
  CHECK(c.p10 < c.predicted);
  CHECK(c.predicted < c.p90);
  const auto at = [&](double claimed, const char* relation) {
    return evaluate({{{"label", "cost"}, {"scenario", kShipped}, {"metric", "cost_usd"}, {"claimed", claimed},
                      {"relation", relation}}})
        .checks.at(0)
        .verdict;
  };
  CHECK(at(c.predicted, "about") == Verdict::consistent);
  CHECK(at(c.p90 * 1.01, "about") == Verdict::above_range);
  CHECK(at(c.p10 * 0.99, "about") == Verdict::below_range);
  CHECK(at(c.p90 * 1.01, "at_most") == Verdict::holds);
  CHECK(at(c.predicted, "at_most") == Verdict::plausible);
  CHECK(at(c.p10 * 0.99, "at_most") == Verdict::fails);
  CHECK(at(c.p10 * 0.99, "at_least") == Verdict::holds);
  CHECK(at(c.p90 * 1.01, "at_least") == Verdict::fails);
}

TEST_CASE("sums add values and bounds and a ratio of a scenario to itself is one", "[claims]") {
  const auto single = evaluate({{{"label", "a"}, {"scenario", kShipped}, {"metric", "yearly_cost_usd"}}}).checks.at(0);
  const auto sum =
      evaluate({{{"label", "b"}, {"sum_of", {kShipped, kShipped}}, {"metric", "yearly_cost_usd"}}}).checks.at(0);
  CHECK_THAT(sum.predicted, Catch::Matchers::WithinRel(2.0 * single.predicted, 1e-12));
  CHECK_THAT(sum.p90, Catch::Matchers::WithinRel(2.0 * single.p90, 1e-12));
  // Yearly cost = the cost per hour x 8,766 h: the rental rate of 2,048 H800 at $2/h is $4,096/h, $35.9 M a year.
  CHECK_THAT(single.predicted, Catch::Matchers::WithinRel(2048 * 2.0 * 8766.0, 1e-9));
  const auto ratio = evaluate({{{"label", "c"}, {"ratio_of", {kShipped, kShipped}}, {"metric", "train_days"},
                                {"claimed", 1.0}, {"relation", "at_most"}}})
                         .checks.at(0);
  CHECK_THAT(ratio.predicted, Catch::Matchers::WithinRel(1.0, 1e-12));
  CHECK(ratio.p10 < 1.0);
  CHECK(ratio.p90 > 1.0);
  CHECK(ratio.verdict == Verdict::plausible);
}

TEST_CASE("what would have to be true: the kernel factor reproduces the claimed MFU", "[claims]") {
  const auto base = evaluate({{{"label", "mfu"}, {"scenario", kShipped}, {"metric", "mfu"}}}).checks.at(0);
  const double claimed = base.predicted * 1.1;
  const auto r = evaluate({{{"label", "mfu"}, {"scenario", kShipped}, {"metric", "mfu"}, {"claimed", claimed},
                            {"solve_kernel_efficiency", true}}})
                     .checks.at(0);
  REQUIRE(r.kernel_factor.has_value());
  CHECK(*r.kernel_factor > 1.0);
  CHECK(r.at_full_kernel_efficiency > claimed);
  // Tier 1 with every kernel efficiency of the family times the factor gives the claimed MFU.
  const auto scenario = load_scenario(kShipped, test::catalogs());
  Assumptions a = test::catalogs().assumptions;
  auto& k = a.kernels[scenario.job.cluster.chip.family];
  for (double* f : {&k.gemm_bf16, &k.gemm_fp8, &k.attention_forward, &k.attention_backward, &k.memory_bound}) {
    *f = std::min(1.0, *f * *r.kernel_factor);
  }
  CHECK_THAT(estimate_training(scenario.job, a).mfu, Catch::Matchers::WithinRel(claimed, 1e-6));
  // Beyond the ceiling there is no factor.
  const auto far = evaluate({{{"label", "mfu"}, {"scenario", kShipped}, {"metric", "mfu"}, {"claimed", 0.99},
                              {"solve_kernel_efficiency", true}}})
                       .checks.at(0);
  CHECK_FALSE(far.kernel_factor.has_value());
}

TEST_CASE("claim files with mistakes are rejected with the path", "[claims]") {
  const auto messages = test::messages_of([] {
    load_claim(write_claim({{{"label", "x"}, {"metric", "speed"}, {"scenario", "nope.json"}, {"ratio_of", {"a"}}},
                            {{"label", "y"}, {"metric", "mfu"}, {"scenario", kShipped}, {"solve_kernel_efficiency", true},
                             {"extra", 1}}},
                           "bad.json"),
               test::catalogs());
  });
  const auto text = test::join_lines(messages);
  CHECK_THAT(text, Catch::Matchers::Contains("/checks/0/metric: expected one of"));
  CHECK_THAT(text, Catch::Matchers::Contains("/checks/0/ratio_of: expected two scenario files"));
  CHECK_THAT(text, Catch::Matchers::Contains("/checks/0: expected exactly one of \"scenario\", \"sum_of\" or \"ratio_of\""));
  CHECK_THAT(text, Catch::Matchers::Contains("/checks/1/solve_kernel_efficiency: needs a single \"scenario\" and a \"claimed\" value"));
  CHECK_THAT(text, Catch::Matchers::Contains("/checks/1/extra: unknown key"));
}

TEST_CASE("the shipped claims load and every check gets a finite prediction", "[claims]") {
  const auto claims = load_claims(fs::path(FLOPCAST_SOURCE_ROOT) / "scenarios" / "claims", test::catalogs());
  CHECK(claims.size() == 10);
  for (const auto& claim : claims) {
    const auto result = evaluate_claim(claim, test::catalogs(), Tier::analytical);
    for (const auto& c : result.checks) {
      INFO(claim.file << ": " << c.label);
      CHECK(std::isfinite(c.predicted));
      CHECK(c.p10 <= c.predicted);
      CHECK(c.predicted <= c.p90);
    }
  }
}

}  // namespace flopcast

namespace flopcast {

namespace {

const fs::path kClaims = fs::path(FLOPCAST_SOURCE_ROOT) / "scenarios" / "claims";

Claim shipped_claim(const std::string& file) { return load_claim(kClaims / file, test::catalogs()); }

ClaimResult evaluate_tier1(const Claim& claim) { return evaluate_claim(claim, test::catalogs(), Tier::analytical); }

// The check of `claim` labelled `label`.
ClaimCheck& check_named(Claim& claim, const std::string& label) {
  for (auto& c : claim.checks) {
    if (c.label == label) return c;
  }
  FAIL("no check labelled " << label);
  throw std::logic_error("unreachable");
}

// Applies `change` to every copy of the scenario `check` names at `index` (checks of one claim share their runs).
template <typename Change>
void change_scenario(Claim& claim, const ClaimCheck& check, std::size_t index, Change change) {
  const std::string file = check.scenarios.at(index).file;
  for (auto& c : claim.checks) {
    for (auto& s : c.scenarios) {
      if (s.file == file) change(s);
    }
  }
}

const CheckResult& result_named(const ClaimResult& result, const std::string& label) {
  for (const auto& c : result.checks) {
    if (c.label == label) return c;
  }
  FAIL("no check labelled " << label);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("deployments in claims: serving figures with the serving spread, the architecture's without one", "[claims]") {
  const std::string served = std::string(FLOPCAST_SOURCE_ROOT) + "/scenarios/serving/deepseek-v3-h800.json";
  const auto r = evaluate({{{"label", "throughput"}, {"scenario", served}, {"metric", "output_tokens_per_s_per_chip"}},
                           {{"label", "kv"}, {"scenario", served}, {"metric", "kv_bytes_per_token"}},
                           {{"label", "flop"}, {"scenario", kShipped}, {"metric", "forward_flop_per_token"}},
                           {{"label", "same"}, {"ratio_of", {served, served}}, {"metric", "serving_usd_per_m_tokens"}}});
  const auto& throughput = r.checks.at(0);
  CHECK(throughput.predicted > 0);
  // The serving MoE spread: p10 and p90 are the prediction x exp(-+1.2816 sigma), sigma the shipped
  // serving.log_sigma_moe (models/data/assumptions.json; 0.304: x 1.48).
  const double sigma = test::catalogs().assumptions.serving_log_sigma_moe;
  CHECK(sigma > 0.1);
  CHECK_THAT(throughput.p90 / throughput.predicted, Catch::Matchers::WithinRel(std::exp(1.2816 * sigma), 1e-3));
  // MLA keeps the 512-wide latent and the 64-wide rope key per layer: 61 x (512 + 64) x 2 bytes = 70,272 bytes.
  const auto& kv = r.checks.at(1);
  CHECK(kv.predicted == 70272.0);
  CHECK(kv.p10 == kv.predicted);
  CHECK(kv.p90 == kv.predicted);
  // DeepSeek-V3's forward FLOPs per token: 2 x its active parameters without the input embedding (36.6 B, the catalog
  // notes), plus the MTP module's; about 75 GFLOP.
  const auto& flop = r.checks.at(2);
  CHECK(flop.predicted > 2.0 * 36.5e9);
  CHECK(flop.predicted < 2.0 * 40e9);
  const auto& same = r.checks.at(3);
  CHECK_THAT(same.predicted, Catch::Matchers::WithinRel(1.0, 1e-12));
  CHECK(same.p10 < 1.0);
}

TEST_CASE("a mixed fleet's chips cost what each stage's chips cost", "[claims]") {
  const std::string mixed = std::string(FLOPCAST_SOURCE_ROOT) + "/scenarios/shipped/llama3-70b-h800-h20-mixed.json";
  const auto r = evaluate({{{"label", "capex"}, {"scenario", mixed}, {"metric", "chips_capex_usd"}}});
  // 256 H800 at $33,800 and 256 H20 at $12,000 (catalog): $8,652,800 + $3,072,000 = $11,724,800; the H20's range is
  // $10,000-12,000, the H800 has none: p10 = $8,652,800 + $2,560,000.
  CHECK_THAT(r.checks.at(0).predicted, Catch::Matchers::WithinRel(11724800.0, 1e-12));
  CHECK_THAT(r.checks.at(0).p10, Catch::Matchers::WithinRel(11212800.0, 1e-12));
}

TEST_CASE("a check whose plan does not fit in memory says so in its verdict", "[claims]") {
  auto claim = load_claim(write_claim({{{"label", "cost"}, {"scenario", kShipped}, {"metric", "cost_usd"}, {"claimed", 1.0},
                                        {"relation", "at_least"}}}),
                          test::catalogs());
  CHECK(evaluate_tier1(claim).checks.at(0).verdict == Verdict::holds);
  claim.checks.at(0).scenarios.at(0).job.cluster.chip.hbm_capacity.value /= 4;
  const auto r = evaluate_tier1(claim);
  CHECK(r.checks.at(0).verdict == Verdict::does_not_fit);
  CHECK(r.verdict == Verdict::does_not_fit);
  REQUIRE(r.checks.at(0).not_fitting.size() == 1);
  CHECK_THAT(r.checks.at(0).not_fitting[0], Catch::Matchers::Contains("GiB usable"));
}

TEST_CASE("a metric on the wrong kind of scenario is an error naming the check", "[claims]") {
  const std::string served = std::string(FLOPCAST_SOURCE_ROOT) + "/scenarios/serving/deepseek-v3-h800.json";
  const auto text = test::join_lines(test::messages_of([&] {
    load_claim(write_claim({{{"label", "a"}, {"scenario", kShipped}, {"metric", "serving_usd_per_m_tokens"}},
                            {{"label", "b"}, {"scenario", served}, {"metric", "train_days"}}}),
               test::catalogs());
  }));
  CHECK_THAT(text, Catch::Matchers::Contains("/checks/0/scenario: " + kShipped + " is a training scenario; metric "
                                             "serving_usd_per_m_tokens needs a deployment"));
  CHECK_THAT(text, Catch::Matchers::Contains("/checks/1/scenario: " + served + " is a deployment; metric train_days needs "
                                             "a training scenario"));
}

// Each shipped claim's verdict moves when an input it rests on does.

TEST_CASE("MLA claim: against GQA-8 it fails, and against 64 KV heads it holds", "[claims]") {
  auto claim = shipped_claim("mla-kv-cache-90-percent.json");
  const auto before = evaluate_tier1(claim);
  // 576 / (2 x 128 x 128) = 0.018 against MHA; 576 / (2 x 8 x 128) = 0.28 against GQA-8.
  CHECK_THAT(result_named(before, "KV cache per token, MLA over MHA (128 heads)").predicted,
             Catch::Matchers::WithinRel(576.0 / 32768.0, 1e-9));
  CHECK_THAT(result_named(before, "KV cache per token, MLA over GQA with 8 KV heads").predicted,
             Catch::Matchers::WithinRel(576.0 / 2048.0, 1e-9));
  CHECK(before.verdict == Verdict::fails);
  // 2 x 64 x 128 = 16,384 elements: 576 / 16,384 = 0.035
  change_scenario(claim, check_named(claim, "KV cache per token, MLA over GQA with 8 KV heads"), 1,
                  [](Scenario& s) { s.job.model.kv_heads = 64; });
  CHECK(evaluate_tier1(claim).verdict == Verdict::holds);
}

TEST_CASE("97.3 % cheaper claim: the verdict follows the rental price", "[claims]") {
  auto claim = shipped_claim("cheaper-than-gpt-4o.json");
  const std::string label = "DeepSeek-V3 on 16 H800 at the comparison's SLO, cost per M tokens";
  const auto with_price = [&](double factor) {
    Claim changed = claim;
    change_scenario(changed, check_named(changed, label), 0, [&](Scenario& s) { s.job.costs.usd_per_chip_hour *= factor; });
    return result_named(evaluate_tier1(changed), label).verdict;
  };
  CHECK(with_price(10.0) == Verdict::fails);
  CHECK(with_price(0.1) == Verdict::holds);
}

TEST_CASE("GPU price claim: the catalog's H100 price decides it", "[claims]") {
  auto claim = shipped_claim("gpu-price-and-count.json");
  const std::string label = "H100 price, at most $40k";
  CHECK(result_named(evaluate_tier1(claim), label).verdict == Verdict::holds);
  change_scenario(claim, check_named(claim, label), 0, [](Scenario& s) {
    auto& price = *s.job.cluster.chip.price;
    price.value = 45000;
    price.low = 42000;
    price.high = 48000;
  });
  CHECK(result_named(evaluate_tier1(claim), label).verdict == Verdict::fails);
}

TEST_CASE("MoE claim: with every expert active the compute is no longer saved", "[claims]") {
  auto claim = shipped_claim("moe-tiny-experts-save-compute.json");
  const std::string label = "forward FLOPs per token, DeepSeek-V3 over a dense 671B";
  CHECK(result_named(evaluate_tier1(claim), label).verdict == Verdict::holds);
  change_scenario(claim, check_named(claim, label), 0, [](Scenario& s) { s.job.model.moe->top_k = s.job.model.moe->experts; });
  CHECK(result_named(evaluate_tier1(claim), label).verdict == Verdict::fails);
}

TEST_CASE("910B serving check: on the H100's node the ratio is one and the claim falls below it", "[claims]") {
  auto claim = shipped_claim("ascend-910b-three-quarters-of-h100.json");
  const std::string label = "serving: Llama-3-70B on 8 chips, bf16, 910B over H100, output tokens/s per chip";
  CHECK(result_named(evaluate_tier1(claim), label).verdict == Verdict::above_range);
  const auto h100 = check_named(claim, label).scenarios.at(1).job.cluster;
  change_scenario(claim, check_named(claim, label), 0, [&](Scenario& s) { s.job.cluster = h100; });
  const auto after = result_named(evaluate_tier1(claim), label);
  CHECK_THAT(after.predicted, Catch::Matchers::WithinRel(1.0, 1e-9));
  CHECK(after.verdict == Verdict::below_range);
}

TEST_CASE("supercluster claim: the 910C's power decides the energy check, and scale counts chips", "[claims]") {
  auto claim = shipped_claim("superclusters-of-domestic-chips.json");
  const std::string energy = "MoE training energy per token, CloudMatrix 384 over GB200 NVL72";
  const auto before = evaluate_tier1(claim);
  // The 910C cluster draws more energy per token than the claim says (its central prediction above the claimed
  // ratio); the verdict turns on how wide the Ascend spread is, so it is not pinned here.
  const auto& energy_before = result_named(before, energy);
  REQUIRE(energy_before.claimed);
  CHECK(energy_before.predicted > *energy_before.claimed);
  // Chips that match: the ratio of per-chip rates times 10,240.
  const auto& match = result_named(before, "Ascend 910B chips that train Llama-3-70B as fast as 10,240 H100");
  auto unscaled = check_named(claim, "Ascend 910B chips that train Llama-3-70B as fast as 10,240 H100");
  unscaled.scale = 1;
  Claim one = claim;
  one.checks = {unscaled};
  CHECK_THAT(match.predicted, Catch::Matchers::WithinRel(10240.0 * evaluate_tier1(one).checks.at(0).predicted, 1e-12));
  CHECK(check_value_text(check_named(claim, "Ascend 910B chips that train Llama-3-70B as fast as 10,240 H100"),
                         match.predicted)
            .find('x') == std::string::npos);
  const double predicted_before = energy_before.predicted;
  change_scenario(claim, check_named(claim, energy), 0, [](Scenario& s) { s.job.cluster.chip.tdp.value /= 2; });
  // Half the 910C's power: the ratio falls by about a quarter (the chips are much, not all, of the cluster's draw:
  // hosts, network and PUE stay) and the claim holds.
  const auto halved = result_named(evaluate_tier1(claim), energy);
  CHECK(halved.predicted < 0.8 * predicted_before);
  CHECK(halved.verdict == Verdict::consistent);
}

TEST_CASE("5.2 PB claim: a hundredth of the tokens trains within the year", "[claims]") {
  auto claim = shipped_claim("rumoured-1.2t-moe-5.2pb.json");
  const std::string label = "days on 2,048 H800";
  CHECK(result_named(evaluate_tier1(claim), label).verdict == Verdict::fails);
  change_scenario(claim, check_named(claim, label), 0, [](Scenario& s) { s.job.training.tokens /= 100; });
  CHECK(result_named(evaluate_tier1(claim), label).verdict == Verdict::holds);
}

}  // namespace flopcast

namespace flopcast {

TEST_CASE("a range writes its shared prefix and unit once, and both ends when they differ", "[claims][units]") {
  CHECK(human::range("$0.1969 per M tokens", "$0.4553 per M tokens") == "$0.1969-0.4553 per M tokens");
  CHECK(human::range("43.0 days", "59.4 days") == "43.0-59.4 days");
  CHECK(human::range("$849 M", "$1.17 B") == "$849 M to $1.17 B");
  CHECK(human::range("57.0 s", "2.20 min") == "57.0 s to 2.20 min");
  CHECK(human::range("-5 %", "3 %") == "-5 % to 3 %");  // a minus sign is not a prefix to share
  // Thousands of days without their tenths.
  CHECK(human::days(41.14) == "41.1 days");
  CHECK(human::days(10200.1) == "10200 days");
}

}  // namespace flopcast
