// Sweeps: expansion of axes, ranges, checks before anything runs, and rows for points that do not fit.

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <unistd.h>

#include "flopcast/studies/sweep.hpp"
#include "helpers.hpp"

namespace flopcast {

namespace {

namespace fs = std::filesystem;

const nlohmann::json kBase = {
    {"model", "llama3-8b"},
    {"cluster", {{"chip", "h100-sxm"}, {"chips", 64}}},
    {"parallelism", {{"tp", 2}, {"pp", 1}, {"dp", 32}, {"zero", 1}, {"recompute", "selective"}}},
    {"training", {{"seq_len", 8192}, {"global_batch", 256}, {"tokens", 1e12}}},
    {"costs", {{"usd_per_chip_hour", 2.0}}}};

Sweep sweep_of(nlohmann::json axes, const std::string& mode = "grid") {
  // One file per call and process: ctest runs test cases in parallel processes.
  static int calls = 0;
  const auto dir = fs::temp_directory_path() / fmt::format("flopcast-sweep-test-{}", ::getpid());
  fs::create_directories(dir);
  const auto file = dir / fmt::format("sweep-{}.json", ++calls);
  std::ofstream(file) << nlohmann::json{{"base", kBase}, {"mode", mode}, {"axes", std::move(axes)}}.dump();
  return load_sweep(file, test::catalogs());
}

}  // namespace

TEST_CASE("a grid varies the last axis fastest and a zip pairs the axes", "[sweep]") {
  const auto grid = sweep_of({{{"path", "/cluster/chip"}, {"values", {"h100-sxm", "h800-sxm"}}},
                              {{"path", "/costs/usd_per_chip_hour"}, {"values", {1.0, 2.0, 3.0}}}});
  REQUIRE(grid.size() == 6);
  CHECK(grid.values_of(0) == std::vector<nlohmann::json>{"h100-sxm", 1.0});
  CHECK(grid.values_of(1) == std::vector<nlohmann::json>{"h100-sxm", 2.0});
  CHECK(grid.values_of(3) == std::vector<nlohmann::json>{"h800-sxm", 1.0});
  CHECK(grid.point_json(5)["costs"]["usd_per_chip_hour"] == 3.0);
  CHECK(grid.point_json(5)["cluster"]["chip"] == "h800-sxm");
  const auto zip = sweep_of({{{"path", "/cluster/chip"}, {"values", {"h100-sxm", "h800-sxm"}}},
                             {{"path", "/costs/usd_per_chip_hour"}, {"values", {1.0, 2.0}}}},
                            "zip");
  REQUIRE(zip.size() == 2);
  CHECK(zip.values_of(1) == std::vector<nlohmann::json>{"h800-sxm", 2.0});
}

TEST_CASE("ranges by step include both ends and by count spread evenly or geometrically", "[sweep]") {
  const auto step = sweep_of({{{"path", "/cluster/chips"}, {"range", {{"from", 32}, {"to", 128}, {"step", 32}}}}});
  REQUIRE(step.size() == 4);  // 32, 64, 96, 128: integers stay integers
  CHECK(step.values_of(3)[0] == 128);
  CHECK(step.values_of(3)[0].is_number_integer());
  const auto log = sweep_of({{{"path", "/costs/usd_per_chip_hour"},
                              {"range", {{"from", 1.0}, {"to", 100.0}, {"count", 3}, {"scale", "log"}}}}});
  REQUIRE(log.size() == 3);  // 1, 10, 100
  CHECK_THAT(log.values_of(1)[0].get<double>(), Catch::Matchers::WithinRel(10.0, 1e-12));
}

TEST_CASE("bad axes are errors before anything runs, naming the axis and the value", "[sweep]") {
  const auto messages = test::messages_of([] {
    sweep_of({{{"path", "/cluster/chip"}, {"values", {"h100-sxm", "h100-sxn"}}},
              {{"path", "/cluster/chips"}, {"values", {"many"}}},
              {{"path", "/nowhere/x"}, {"values", {1}}},
              {{"path", "/parallelism/tp"}, {"values", nlohmann::json::array()}}});
  });
  const auto text = test::join_lines(messages);
  CHECK_THAT(text, Catch::Matchers::Contains("/axes/0/values/1: \"h100-sxn\" at /cluster/chip: unknown chip \"h100-sxn\" (did you mean \"h100-sxm\"?)"));
  CHECK_THAT(text, Catch::Matchers::Contains("/axes/1/values/0: \"many\" at /cluster/chips: expected an integer"));
  CHECK_THAT(text, Catch::Matchers::Contains("/axes/2/path: \"/nowhere/x\" is not a field of the base scenario"));
  CHECK_THAT(text, Catch::Matchers::Contains("/axes/3/values: expected at least one value"));
  const auto zip = test::join_lines(test::messages_of([] {
    sweep_of({{{"path", "/cluster/chip"}, {"values", {"h100-sxm", "h800-sxm"}}},
              {{"path", "/costs/usd_per_chip_hour"}, {"values", {1.0}}}},
             "zip");
  }));
  CHECK_THAT(zip, Catch::Matchers::Contains("/axes/1: zip mode needs axes of one length: 1 values here, 2 on axis 0"));
}

TEST_CASE("points that do not fit together or in memory are rows with a reason", "[sweep]") {
  const auto sweep = sweep_of({{{"path", "/cluster/chips"}, {"values", {64, 99}}},
                               {{"path", "/training/seq_len"}, {"values", {8192, 131072}}}});
  const auto fits = evaluate_sweep_point(sweep, 0, test::catalogs());
  CHECK(fits["status"] == "ok");
  CHECK(fits["step_time_s"].get<double>() > 0);
  CHECK(fits["step_time_s_p10"].get<double>() < fits["step_time_s"].get<double>());
  // 128K tokens per sequence without context parallelism: the activations do not fit in 80 GB.
  const auto too_long = evaluate_sweep_point(sweep, 1, test::catalogs());
  CHECK(too_long["status"] == "infeasible");
  CHECK_THAT(too_long["reason"].get<std::string>(), Catch::Matchers::StartsWith("does not fit in memory"));
  // 99 chips are not a multiple of tp x pp = 2: dp cannot scale, and tp x pp x dp = 64 is not 99.
  const auto indivisible = evaluate_sweep_point(sweep, 2, test::catalogs());
  CHECK(indivisible["status"] == "infeasible");
  CHECK_THAT(indivisible["reason"].get<std::string>(), Catch::Matchers::Contains("/cluster/chips is 99"));
  // Every CSV row has the header's columns (commas inside a quoted field do not separate).
  const auto commas = [](const std::string& line) {
    int n = 0;
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"') quoted = !quoted;
      if (ch == ',' && !quoted) ++n;
    }
    return n;
  };
  CHECK(commas(sweep_csv_row(sweep, indivisible)) == commas(sweep_csv_header(sweep)));
  CHECK(commas(sweep_csv_row(sweep, fits)) == commas(sweep_csv_header(sweep)));
}

TEST_CASE("a sweep of the cluster size scales data parallelism, unless it sets dp itself", "[sweep]") {
  // tp 2 x pp 1 in the base: 32 chips give dp 16, 128 give dp 64 (the global batch of 256 divides both).
  const auto sweep = sweep_of({{{"path", "/cluster/chips"}, {"values", {32, 128}}}});
  CHECK(sweep.point_json(0)["parallelism"]["dp"] == 16);
  CHECK(sweep.point_json(1)["parallelism"]["dp"] == 64);
  CHECK(evaluate_sweep_point(sweep, 0, test::catalogs())["status"] == "ok");
  CHECK(evaluate_sweep_point(sweep, 1, test::catalogs())["status"] == "ok");
  // Zipped with dp: the sweep's own dp stands.
  const auto both = sweep_of({{{"path", "/cluster/chips"}, {"values", {32, 128}}},
                              {{"path", "/parallelism/dp"}, {"values", {8, 32}}}},
                             "zip");
  CHECK(both.point_json(0)["parallelism"]["dp"] == 8);
  CHECK(both.point_json(1)["parallelism"]["dp"] == 32);
}

TEST_CASE("the fingerprint follows the points", "[sweep]") {
  const auto a = sweep_of({{{"path", "/cluster/chips"}, {"values", {64, 128}}}});
  const auto b = sweep_of({{{"path", "/cluster/chips"}, {"values", {64, 128}}}});
  const auto c = sweep_of({{{"path", "/cluster/chips"}, {"values", {64, 256}}}});
  CHECK(a.fingerprint() == b.fingerprint());
  CHECK(a.fingerprint() != c.fingerprint());
}

}  // namespace flopcast
