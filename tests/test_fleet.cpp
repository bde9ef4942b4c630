// Fleet planning: the file's checks, the sizing formulas, and the properties issue 12 asks for (one job equals
// `flopcast run`, power never above capacity, no start before arrival, more chips never delay, same seed same
// schedule).

#include <fmt/format.h>

#include <cmath>
#include <random>

#include "flopcast/core/files.hpp"
#include "flopcast/studies/fleet.hpp"
#include "flopcast/studies/planner.hpp"
#include "flopcast/studies/serving_search.hpp"
#include "helpers.hpp"

namespace flopcast {

namespace {

using Catch::Matchers::WithinRel;

const std::string kDataDir = std::string(FLOPCAST_SOURCE_ROOT) + "/tests/data/fleet";

FleetSpec fleet_from(const nlohmann::json& json) {
  return parse_fleet(json, "fleet.json", kDataDir, test::catalogs());
}

nlohmann::json one_pool(int chips, double power_mw = 100) {
  return {{"sites", {{{"id", "dc"}, {"power_mw", power_mw}, {"pue", 1.3}}}},
          {"pools",
           {{{"id", "h100"}, {"site", "dc"}, {"chip", "h100-sxm"}, {"chips", chips}, {"usd_per_chip_hour", 2.0}}}}};
}

nlohmann::json training(const std::string& name, double arrival_days, int priority, int chips) {
  return {{"name", name},
          {"scenario", "llama8b-h100.json"},
          {"arrival_days", arrival_days},
          {"priority", priority},
          {"chips", chips}};
}

// A seeded random portfolio: 24 training runs of 64, 128 or 256 chips, arriving over 60 days, priorities 0-2.
nlohmann::json random_portfolio(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> size(0, 2), prio(0, 2), day(0, 60);
  nlohmann::json jobs = nlohmann::json::array();
  for (int i = 0; i < 24; ++i) jobs.push_back(training(fmt::format("job {}", i), day(rng), prio(rng), 64 << size(rng)));
  return jobs;
}

}  // namespace

TEST_CASE("fleet: one job on one pool equals flopcast run", "[scenarios][fleet]") {
  for (const std::string file : {"llama8b-h100.json", "llama8b-h100-failures.json"}) {
    INFO(file);
    auto json = one_pool(72);  // 64 chips and, with failures, one hot spare node (0.5 % of 8 nodes, rounded up)
    json["training"] = nlohmann::json::array({{{"name", "one"}, {"scenario", file}, {"plan", "scenario"}}});
    const auto result = simulate_fleet(fleet_from(json), test::catalogs());
    const auto scenario = load_scenario(kDataDir + "/" + file, test::catalogs());
    SimOptions tier1;
    tier1.tier = Tier::analytical;
    const auto run = simulate_scenario(scenario, test::catalogs(), tier1).estimate;  // flopcast run --tier analytical
    REQUIRE(result.jobs.size() == 1);
    const auto& job = result.jobs.front();
    CHECK(job.status == FleetJobStatus::finished);
    CHECK(job.start_days == 0);
    CHECK_THAT(job.finish_days, WithinRel(run.train_days, 1e-12));
    CHECK_THAT(job.energy_mwh, WithinRel(run.energy_cost.energy_kwh / 1000.0, 1e-12));
    CHECK_THAT(job.cost_usd, WithinRel(run.energy_cost.cost_usd, 1e-12));  // same price: $2 per chip-hour
    CHECK_THAT(job.power_mw, WithinRel(run.energy_cost.facility_power_w / 1e6, 1e-12));
    CHECK_THAT(job.flop, WithinRel(run.model_flop_per_s_per_chip * 64 * run.steps * run.step_time_s, 1e-12));
  }
  SECTION("with the planner's plan: the best tier-1 plan at that size") {
    auto json = one_pool(64);
    json["training"] = nlohmann::json::array({training("one", 0, 0, 64)});
    const auto result = simulate_fleet(fleet_from(json), test::catalogs());
    const auto scenario = load_scenario(kDataDir + "/llama8b-h100.json", test::catalogs());
    const auto best = best_plan_at(scenario, *test::catalogs().hardware.find_chip("h100-sxm"), 64, test::catalogs());
    REQUIRE(best.best);
    CHECK_THAT(result.jobs.front().finish_days, WithinRel(best.best->estimate.train_days, 1e-12));
    CHECK(result.jobs.front().plan == plan_summary(best.best->plan));
  }
}

TEST_CASE("fleet: power never exceeds a site's capacity", "[scenarios][fleet]") {
  // Size one 64-chip job, then give the site room for two and a half of them: of four jobs arriving together on a
  // 512-chip pool (chips for eight), two run at a time.
  auto json = one_pool(512);
  json["training"] = nlohmann::json::array({training("a", 0, 0, 64)});
  const double one_mw = simulate_fleet(fleet_from(json), test::catalogs()).jobs.front().power_mw;
  json = one_pool(512, 2.5 * one_mw);
  json["training"] = {training("a", 0, 0, 64), training("b", 0, 0, 64), training("c", 0, 0, 64),
                      training("d", 0, 0, 64)};
  const auto result = simulate_fleet(fleet_from(json), test::catalogs());
  const auto& site = result.sites.front();
  for (const auto& point : site.power_mw) CHECK(point.value <= site.capacity_mw * (1 + 1e-9));
  CHECK_THAT(site.peak_mw, WithinRel(2 * one_mw, 1e-9));
  CHECK(result.jobs[2].start_days == result.jobs[0].finish_days);  // c waited for power, not for chips
  SECTION("a job that alone draws more than its site is unscheduled, with the reason") {
    auto small = one_pool(512, 0.5 * one_mw);
    small["training"] = nlohmann::json::array({training("big", 0, 0, 64)});
    const auto r = simulate_fleet(fleet_from(small), test::catalogs());
    CHECK(r.jobs.front().status == FleetJobStatus::unscheduled);
    CHECK_THAT(r.jobs.front().reason, Catch::Matchers::StartsWith("h100: draws"));
  }
}

TEST_CASE("fleet: no job starts before its arrival, and doubling a pool never delays a job", "[scenarios][fleet]") {
  for (unsigned seed : {1u, 2u}) {
    INFO("portfolio seed " << seed);
    auto json = one_pool(512);
    json["training"] = random_portfolio(seed);
    const auto base = simulate_fleet(fleet_from(json), test::catalogs());
    json["pools"][0]["chips"] = 1024;
    const auto doubled = simulate_fleet(fleet_from(json), test::catalogs());
    for (std::size_t j = 0; j < base.jobs.size(); ++j) {
      INFO(base.jobs[j].name);
      REQUIRE(base.jobs[j].status != FleetJobStatus::unscheduled);
      CHECK(base.jobs[j].start_days >= base.jobs[j].arrival_days);
      CHECK(doubled.jobs[j].start_days >= doubled.jobs[j].arrival_days);
      CHECK(doubled.jobs[j].finish_days <= base.jobs[j].finish_days);
    }
    // Chips in use never exceed the pool.
    for (const auto& point : base.pools.front().busy_chips) CHECK(point.value <= 512);
  }
}

TEST_CASE("fleet: the same seed gives the same schedule", "[scenarios][fleet]") {
  auto json = one_pool(512);
  json["seed"] = 7;
  json["training"] = random_portfolio(4);
  json["training"].push_back(
      {{"name", "with failures"}, {"scenario", "llama8b-h100-failures.json"}, {"plan", "scenario"}});
  const auto spec = fleet_from(json);
  const auto a = fleet_result_to_json(simulate_fleet(spec, test::catalogs()));
  const auto b = fleet_result_to_json(simulate_fleet(fleet_from(json), test::catalogs()));
  CHECK(a.dump() == b.dump());
  CHECK(a.at("seed") == 7);
}

TEST_CASE("fleet: priority first, then arrival, and first fit lets a smaller job start", "[scenarios][fleet]") {
  // 128 chips. t=0: "wide" (128 chips, 0.85 days) runs. t=0.1: "low" (64, priority 0) and "high" (64, priority 5)
  // arrive and wait; t=0.2: "late" (128, priority 9) arrives. When "wide" ends, "late" goes first (highest priority)
  // and takes the pool; when it ends, "high" and then "low" are placed, and both fit (64 + 64 = 128).
  auto json = one_pool(128);
  json["training"] = {training("wide", 0, 0, 128), training("low", 0.1, 0, 64), training("high", 0.1, 5, 64),
                      training("late", 0.2, 9, 128)};
  const auto r = simulate_fleet(fleet_from(json), test::catalogs());
  CHECK(r.jobs[3].start_days == r.jobs[0].finish_days);
  CHECK(r.jobs[2].start_days == r.jobs[3].finish_days);
  CHECK(r.jobs[1].start_days == r.jobs[3].finish_days);  // first fit: room is left beside "high"
  SECTION("a job that does not fit waits; a smaller one behind it starts (no reservation)") {
    auto j = one_pool(128);
    j["training"] = {training("half", 0, 0, 64), training("whole", 0.1, 5, 128), training("small", 0.2, 0, 64)};
    const auto q = simulate_fleet(fleet_from(j), test::catalogs());
    CHECK(q.jobs[2].start_days == 0.2);
    CHECK(q.jobs[1].start_days == std::max(q.jobs[0].finish_days, q.jobs[2].finish_days));
  }
}

TEST_CASE("fleet: utilisation, FLOP/s-years and serving sizes by hand", "[scenarios][fleet]") {
  auto json = one_pool(128);
  json["horizon_days"] = 400;
  json["training"] = nlohmann::json::array({training("one", 10, 0, 64)});
  const auto r = simulate_fleet(fleet_from(json), test::catalogs());
  const auto& job = r.jobs.front();
  const double d = job.finish_days - job.start_days;
  // utilisation = 64 chips x d days / (128 chips x 400 days)
  CHECK_THAT(r.pools.front().utilisation, WithinRel(64 * d / (128 * 400.0), 1e-12));
  // FLOP/s-years = FLOP / (365.25 x 86400 s)
  CHECK_THAT(r.flop_per_s_years, WithinRel(r.flop / 31'557'600.0, 1e-12));
  // held cost = 128 chips x 400 days x 24 h x $2 = $2,457,600
  CHECK_THAT(r.held_cost_usd, WithinRel(2'457'600.0, 1e-12));

  SECTION("serving: instances = ceil(demand / one instance's output tokens/s), in whole nodes") {
    auto s = one_pool(128);
    s["serving"] = nlohmann::json::array(
        {{{"name", "chat"}, {"scenario", "llama8b-serve-h100.json"}, {"tokens_per_day", 1e9}}});
    const auto spec = fleet_from(s);
    std::map<std::string, JobSizing> cache;
    const auto sizing = size_job(spec, spec.jobs.front(), spec.pools.front(), test::catalogs(), cache);
    REQUIRE(sizing.feasible);
    // The serving search's best plan on H100 within the SLO, then by hand:
    // instances = ceil(1e9 tokens/day / 86,400 s / one instance's output tokens/s), chips in whole 8-chip nodes,
    // power = instances x one instance's facility power.
    const auto search = search_serving(spec.jobs.front().scenario, {"h100-sxm"}, test::catalogs());
    const auto& best = search.best.front();
    REQUIRE(best.meets_slo);
    const double per_instance = best.estimate.output_tokens_per_s;
    const long instances = static_cast<long>(std::ceil(1e9 / 86400.0 / per_instance));
    const int node = 8;
    const long chips = (instances * best.plan.chips() + node - 1) / node * node;
    CHECK(std::stol(sizing.plan) == instances);  // the plan line starts with the instance count
    CHECK(sizing.chips == chips);
    CHECK_THAT(sizing.power_w, WithinRel(instances * best.estimate.facility_power_w, 1e-12));
    SECTION("demand beyond the pool: unscheduled, with the reason") {
      auto big = s;
      big["serving"][0]["tokens_per_day"] = 1e9 * 1000;
      const auto r = simulate_fleet(fleet_from(big), test::catalogs());
      CHECK(r.jobs.front().status == FleetJobStatus::unscheduled);
      CHECK_THAT(r.jobs.front().reason, Catch::Matchers::Contains("pool \"h100\" has 128"));
    }
    const auto result = simulate_fleet(spec, test::catalogs());
    CHECK(result.jobs.front().finish_days == 365);  // held to the horizon's end
    CHECK(result.jobs.front().status == FleetJobStatus::finished);
  }
}

TEST_CASE("fleet: node power and dates by hand", "[scenarios][fleet]") {
  const auto& hw = test::catalogs().hardware;
  const Chip& h100 = *hw.find_chip("h100-sxm");
  const Node& node = *hw.find_node("hgx-h100");
  // PUE x (8 chips x 700 W x power fraction + host power)
  const double fraction = test::catalogs().assumptions.chip_power_fraction_of_tdp;
  CHECK_THAT(node_facility_power_w(h100, node, 1.3, test::catalogs().assumptions),
             WithinRel(1.3 * (8 * 700.0 * fraction + node.host_power.value), 1e-12));
  CHECK(date_after("2025-01-01", 59) == "2025-03-01");    // 31 (January) + 28 (February 2025)
  CHECK(date_after("2024-01-01", 59.9) == "2024-02-29");  // leap year; days are floored
  CHECK(date_after("2025-12-31", 1) == "2026-01-01");
}

TEST_CASE("fleet: \"fill\" puts as many whole nodes as the site's power holds", "[scenarios][fleet]") {
  auto json = one_pool(8, 10);
  json["pools"][0]["chips"] = "fill";
  const auto spec = fleet_from(json);
  const auto& hw = test::catalogs().hardware;
  const double per_node =
      node_facility_power_w(*hw.find_chip("h100-sxm"), *hw.find_node("hgx-h100"), 1.3, test::catalogs().assumptions);
  CHECK(spec.pools.front().chips == 8 * static_cast<int>(10e6 / per_node));
}

TEST_CASE("fleet file: errors name the file, the path and what was expected", "[scenarios][fleet]") {
  auto json = one_pool(100);
  json["horizon_dayz"] = 3;
  json["start_date"] = "2025-13-01";
  json["sites"][0]["pue"] = 0.5;
  json["pools"][0]["chip"] = "h100";
  json["training"] = nlohmann::json::array(
      {{{"name", "x"}, {"scenario", "llama8b-serve-h100.json"}, {"pools", {"h10"}}, {"priority", 1.5}}});
  json["serving"] = nlohmann::json::array({{{"name", "y"}, {"scenario", "llama8b-h100.json"}}});
  const auto messages = test::messages_of([&] { fleet_from(json); });
  CHECK(test::join_lines(messages) ==
        "/start_date: expected a calendar date \"YYYY-MM-DD\", got \"2025-13-01\"\n"
        "/sites/0/pue: expected a number >= 1 and <= 5, got 0.5\n"
        "/pools/0/chip: unknown chip \"h100\" (did you mean \"h100-sxm\"?)\n"
        "/training/0/scenario: expected a training scenario, got a serving deployment\n"
        "/training/0/priority: expected an integer from -1000 to 1000, got 1.5\n"
        "/training/0/pools/0: unknown pool \"h10\" (did you mean \"h100\"?)\n"
        "/serving/0/scenario: expected a serving deployment (a \"serving\" section)\n"
        "/serving/0/tokens_per_day: is required but missing\n"
        "/horizon_dayz: unknown key (did you mean \"horizon_days\"?)\n");
  SECTION("chips in whole nodes, a known site") {
    auto bad = one_pool(100);
    bad["pools"][0]["site"] = "dcc";
    bad["pools"][0]["chip"] = "h100-sxm";
    CHECK(test::join_lines(test::messages_of([&] { fleet_from(bad); })) ==
          "/pools/0/site: unknown site \"dcc\" (did you mean \"dc\"?)\n");
    bad["pools"][0]["site"] = "dc";
    CHECK(test::join_lines(test::messages_of([&] { fleet_from(bad); })) ==
          "/pools/0/chips: expected whole hgx-h100 nodes (a multiple of 8), got 100\n");
    bad["pools"][0]["chips"] = 64;
    bad["pools"][0]["network"] = {{"fabric", "ib-ndr40"}, {"topology", "torus"}};
    CHECK(test::join_lines(test::messages_of([&] { fleet_from(bad); })) ==
          "/pools/0/network/fabric: unknown fabric \"ib-ndr40\" (did you mean \"ib-ndr400\"?)\n"
          "/pools/0/network/topology: expected one of fat-tree-2 | fat-tree-3 | multi-plane-2, got \"torus\"\n");
  }
  SECTION("a mixed-fleet scenario runs with its own plan: the planner searches one chip type") {
    auto mixed = one_pool(64);
    mixed["training"] = nlohmann::json::array(
        {{{"name", "m"}, {"scenario", "../../../scenarios/shipped/llama3-70b-h800-h20-mixed.json"}}});
    CHECK(test::join_lines(test::messages_of([&] { fleet_from(mixed); })) ==
          "/training/0/plan: a mixed-fleet scenario (cluster.stage_chips) runs with \"plan\": \"scenario\": the "
          "planner searches one chip type\n");
  }
  SECTION("the file is named in every problem") {
    try {
      fleet_from({{"sites", nlohmann::json::array()}});
      FAIL("no error");
    } catch (const InputError& error) {
      for (const auto& p : error.problems()) CHECK(p.file == "fleet.json");
    }
  }
}

}  // namespace flopcast

namespace flopcast {

TEST_CASE("fleet: a deadline sizes the run to the fewest chips that meet it", "[scenarios][fleet]") {
  // Llama-3-8B on 1e11 tokens takes 1.7 days on 64 H100 (the test scenario); a 1-day deadline needs more chips:
  // the planner's fewest_chips on the pool (up to its 512 chips), and the run then meets it.
  auto json = one_pool(512);
  json["training"] = nlohmann::json::array(
      {{{"name", "rush"}, {"scenario", "llama8b-h100.json"}, {"deadline_days", 1.0}}});
  const auto spec = fleet_from(json);
  const auto r = simulate_fleet(spec, test::catalogs());
  const auto fewest = fewest_chips(spec.jobs.front().scenario, *test::catalogs().hardware.find_chip("h100-sxm"), 1.0,
                                   512, test::catalogs());
  REQUIRE(fewest);
  CHECK(r.jobs.front().chips == fewest->chips);
  CHECK(r.jobs.front().chips > 64);
  REQUIRE(r.jobs.front().deadline_met);
  CHECK(*r.jobs.front().deadline_met);
}

TEST_CASE("fleet: the shipped fleet files parse", "[scenarios][fleet]") {
  for (const auto& file : json_files_in(std::string(FLOPCAST_SOURCE_ROOT) + "/scenarios/fleet", "shipped fleets")) {
    INFO(file.string());
    const auto spec = load_fleet(file, test::catalogs());
    CHECK(!spec.jobs.empty());
    CHECK(!spec.question.empty());
  }
}

}  // namespace flopcast

namespace flopcast {

TEST_CASE("fleet: --match finds the fewest whole nodes that deliver the reference's FLOP", "[scenarios][fleet]") {
  // The reference: a random portfolio on a 512-chip pool over 10 days, matched by the same portfolio: the answer
  // delivers at least the reference's FLOP, and one node fewer does not.
  auto json = one_pool(512);
  json["horizon_days"] = 10;
  json["training"] = random_portfolio(5);
  const auto spec = fleet_from(json);
  const auto reference = simulate_fleet(spec, test::catalogs());
  const auto match = match_fleet(spec, "h100", reference.flop, 4096, test::catalogs());
  CHECK(match.result.flop >= reference.flop);
  CHECK(match.chips % 8 == 0);
  auto fewer = spec;
  fewer.pools.front().chips = match.chips - 8;
  fewer.sites.front().power_capacity_w = 1e12;
  CHECK(simulate_fleet(fewer, test::catalogs()).flop < reference.flop);
}

}  // namespace flopcast

namespace flopcast {

TEST_CASE("fleet: a job spans two chip types only when its scenario is a mixed fleet", "[scenarios][fleet]") {
  // Llama-3-70B on 256 H800 + 256 H20 (pipeline stages 2 and 3 on H20): site "dc" has both pools, site "far" only
  // H800s. The job takes 256 chips from each pool at "dc" at once.
  const nlohmann::json sites = {{{"id", "dc"}, {"power_mw", 100}, {"pue", 1.3}},
                                {{"id", "far"}, {"power_mw", 100}, {"pue", 1.3}}};
  const auto pool = [](const char* id, const char* site, const char* chip, int chips, double usd) {
    return nlohmann::json{{"id", id}, {"site", site}, {"chip", chip}, {"chips", chips}, {"usd_per_chip_hour", usd}};
  };
  const std::string mixed_file = "../../../scenarios/shipped/llama3-70b-h800-h20-mixed.json";
  nlohmann::json json = {{"sites", sites},
                         {"pools",
                          {pool("h800-far", "far", "h800-sxm", 512, 2.0), pool("h800", "dc", "h800-sxm", 256, 2.0),
                           pool("h20", "dc", "h20", 256, 1.0)}}};
  json["training"] = nlohmann::json::array(
      {{{"name", "mixed"}, {"scenario", mixed_file}, {"plan", "scenario"}, {"tokens", 2e11}}});
  const auto result = simulate_fleet(fleet_from(json), test::catalogs());
  const auto& job = result.jobs.front();
  REQUIRE(job.status == FleetJobStatus::finished);
  CHECK(job.pool == "h800+h20");
  CHECK(job.chip == "h800-sxm+h20");
  CHECK(job.chips == 512);
  // The same as `flopcast run` of the scenario at the site's PUE.
  auto scenario = load_scenario(kDataDir + "/" + mixed_file, test::catalogs());
  scenario.job.costs.pue = 1.3;
  scenario.job.training.tokens = 2e11;
  SimOptions tier1;
  tier1.tier = Tier::analytical;
  const auto run = simulate_scenario(scenario, test::catalogs(), tier1).estimate;
  CHECK_THAT(job.finish_days, WithinRel(run.train_days, 1e-12));
  CHECK_THAT(job.power_mw, WithinRel(run.energy_cost.facility_power_w / 1e6, 1e-12));
  // Its chip-hours at each pool's price: 256 x $2 + 256 x $1 = $768 per hour.
  CHECK_THAT(job.cost_usd, WithinRel(768.0 * job.finish_days * 24.0, 1e-12));
  // Both pools at "dc" were busy for the same time, half the FLOP each (equal chip counts); "far" never.
  CHECK(result.pools[0].utilisation == 0);
  CHECK(result.pools[1].utilisation > 0);
  CHECK_THAT(result.pools[1].utilisation, WithinRel(result.pools[2].utilisation, 1e-12));
  CHECK_THAT(result.pools[1].flop, WithinRel(job.flop / 2, 1e-12));
  SECTION("no site holds every chip type it needs: unscheduled, with the reasons") {
    json["pools"] = {pool("h800-far", "far", "h800-sxm", 512, 2.0), pool("h20", "dc", "h20", 256, 1.0)};
    const auto r = simulate_fleet(fleet_from(json), test::catalogs());
    CHECK(r.jobs.front().status == FleetJobStatus::unscheduled);
    CHECK(r.jobs.front().reason ==
          "site far: no pool of h20 among the job's pools; site dc: no pool of h800-sxm among the job's pools");
  }
  SECTION("a one-chip-type job never spans two pools, even of the same chip") {
    json["pools"] = {pool("a", "dc", "h100-sxm", 32, 2.0), pool("b", "dc", "h100-sxm", 32, 2.0)};
    json["training"] = nlohmann::json::array({training("one", 0, 0, 64)});
    const auto r = simulate_fleet(fleet_from(json), test::catalogs());
    CHECK(r.jobs.front().status == FleetJobStatus::unscheduled);
    CHECK_THAT(r.jobs.front().reason, Catch::Matchers::StartsWith("a: needs 64 chips; pool \"a\" has 32"));
  }
}

}  // namespace flopcast
