// Claims: loading, the verdict rules, sums and ratios, and what would have to be true.

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <unistd.h>

#include "flopcast/scenarios/claims.hpp"
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
  CHECK(claims.size() == 4);
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
