#pragma once
// Shared by the test files: the catalogs, loaded once, and a scenario from inline JSON.

#include <catch2/catch.hpp>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast::test {

inline const Catalogs& catalogs() {
  static const Catalogs loaded = load_catalogs(FLOPCAST_SOURCE_ROOT);
  return loaded;
}

inline Scenario scenario_from(const nlohmann::json& json) {
  return parse_scenario(json, "test.json", FLOPCAST_SOURCE_ROOT, catalogs());
}

// The exact messages of an InputError, one per problem, as "path: message".
inline std::vector<std::string> messages_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& error) {
    std::vector<std::string> messages;
    for (const auto& problem : error.problems()) messages.push_back(problem.path + ": " + problem.message);
    return messages;
  }
  return {"<no error>"};
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// Llama 3 8B on 64 H100 with tp 2 x pp 2 x dp 16: a small job the planner and the comparison search in milliseconds.
inline nlohmann::json small_job() {
  return {{"model", "llama3-8b"},
          {"cluster", {{"chip", "h100-sxm"}, {"chips", 64}}},
          {"parallelism", {{"tp", 2}, {"pp", 2}, {"dp", 16}, {"zero", 1}, {"recompute", "full"}}},
          {"training", {{"seq_len", 8192}, {"global_batch", 256}, {"tokens", 1e12}}},
          {"costs", {{"usd_per_chip_hour", 2.0}}}};
}

}  // namespace flopcast::test
