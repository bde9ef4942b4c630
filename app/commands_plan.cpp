// flopcast plan: the best parallel plans for a scenario's model, cluster and batch.

#include <algorithm>
#include <chrono>
#include <set>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "distributed.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/units.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/studies/planner.hpp"
#include "format.hpp"

namespace flopcast::cli {

namespace {

// The dimensions --pin keeps at the scenario's values, each checked against the space's (with a suggestion); the
// search adds those the scenario's file pins (parallelism.pin).
std::set<std::string> pinned_dimensions(const PlanOptions& options) {
  const auto& known = plan_dimensions();
  std::set<std::string> out;
  for (const auto& key : options.pin) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw InputError("--pin", "", fmt::format("\"{}\" is not a dimension of the plan search{}; the dimensions: {}", key,
                                                did_you_mean(key, known), join(known, ", ")));
    }
    out.insert(key);
  }
  return out;
}

// The precisions --precisions names ("all": each the scenario's chip runs), each checked; empty where none are named.
std::vector<Precision> asked_precisions(const PlanOptions& options, const Scenario& scenario) {
  std::vector<std::string> known;
  for (const auto precision : kAllPrecisions) known.emplace_back(to_string(precision));
  const Chip& chip = scenario.job.cluster.chip;
  std::vector<Precision> out;
  for (const auto& name : options.precisions) {
    if (name == "all") {
      for (const auto precision : kAllPrecisions) {
        if (!unsupported_precision(chip, precision)) out.push_back(precision);
      }
      continue;
    }
    const auto precision = parse_precision(name);
    if (!precision) {
      throw InputError("--precisions", "", fmt::format("unknown precision \"{}\"{}; known: {}, or all", name,
                                                       did_you_mean(name, known), join(known, ", ")));
    }
    if (const auto why = unsupported_precision(chip, *precision)) throw InputError("--precisions", "", *why);
    out.push_back(*precision);
  }
  return out;
}

// Under mpirun: each rank estimates its share of the space; rank 0 gathers every rank's best K and schedule leaders,
// keeps the best K of all, and re-ranks them with each schedule's leader that could rank (rerank_with_challengers).
// The other ranks return after sending.
bool gather_search(const Scenario& scenario, const Catalogs& catalogs, const PlanOptions& options,
                   PlanSearchResult& result) {
  PlanSearchOptions search;
  search.top_k = options.top_k;
  search.rerank_tier = Tier::analytical;
  search.keep_challengers = options.tier != Tier::analytical;
  search.compare_given = rank() == 0;
  search.shard = rank();
  search.shards = ranks();
  search.pinned = pinned_dimensions(options);
  search.precisions = asked_precisions(options, scenario);
  result = search_plans(scenario, catalogs, search);
  if (rank() != 0) {
    nlohmann::json share = {{"out_of_memory", result.out_of_memory},
                            {"pruned_by_memory", result.pruned_by_memory},
                            {"offloaded", result.offloaded},
                            {"optimizer_offloaded", result.optimizer_offloaded},
                            {"dominated", result.dominated},
                            {"invalid", result.invalid},
                            {"evaluated", result.evaluated},
                            {"pipelines_walked", result.pipelines_walked},
                            {"tier1_wall_s", result.tier1_wall_s},
                            {"plans", nlohmann::json::array()}};
    const auto sent = [](const PlanCandidate& c) {
      return nlohmann::json{{"parallelism", plan_to_json(c.plan)}, {"precision", std::string(to_string(c.precision))}};
    };
    for (const auto& c : result.best) share["plans"].push_back(sent(c));
    share["challengers"] = nlohmann::json::array();
    for (const auto& c : result.challengers) share["challengers"].push_back(sent(c));
    send_to_root(share.dump());
    return false;
  }
  for (int source = 1; source < ranks(); ++source) {
    const auto share = nlohmann::json::parse(receive_from(source));
    result.out_of_memory += share.at("out_of_memory").get<long>();
    result.pruned_by_memory += share.at("pruned_by_memory").get<long>();
    result.offloaded += share.at("offloaded").get<long>();
    result.optimizer_offloaded += share.at("optimizer_offloaded").get<long>();
    result.dominated += share.at("dominated").get<long>();
    result.invalid += share.at("invalid").get<long>();
    result.evaluated += share.at("evaluated").get<long>();
    result.pipelines_walked += share.at("pipelines_walked").get<long>();
    result.tier1_wall_s = std::max(result.tier1_wall_s, share.at("tier1_wall_s").get<double>());
    // Read back through the scenario parser, the one reader of plans.
    const auto read = [&](const nlohmann::json& sent) {
      auto json = scenario.resolved;
      json["parallelism"] = sent.at("parallelism");
      json["training"]["precision"] = sent.at("precision");
      const auto received = parse_scenario(json, fmt::format("plan from rank {}", source),
                                           std::filesystem::path(scenario.file).parent_path(), catalogs);
      return estimate_plan(scenario, received.job.plan, catalogs, received.job.training.precision);
    };
    for (const auto& p : share.at("plans")) result.best.push_back(read(p));
    for (const auto& p : share.at("challengers")) result.challengers.push_back(read(p));
  }
  std::sort(result.best.begin(), result.best.end(), ranks_before);
  const auto keep = static_cast<std::size_t>(std::max(1, options.top_k));
  // The best K of all ranks; the fastest plan of each schedule class that any rank sent challenges them, unless it is
  // one of them (as in one process).
  std::vector<PlanCandidate> all = result.best;
  all.insert(all.end(), result.challengers.begin(), result.challengers.end());
  if (result.best.size() > keep) result.best.resize(keep);
  auto challengers = class_challengers(std::move(all), result.best);
  result.challengers.clear();
  const auto t0 = std::chrono::steady_clock::now();
  result.reranked = rerank_with_challengers(scenario, catalogs, result.best, std::move(challengers), keep, options.tier);
  if (result.given) {
    std::vector<PlanCandidate> one{*result.given};
    rerank(scenario, catalogs, one, options.tier);
    result.given = one.front();
  }
  result.rerank_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return true;
}

std::vector<std::string> precision_names(const std::vector<Precision>& precisions) {
  std::vector<std::string> out;
  for (const auto precision : precisions) out.emplace_back(to_string(precision));
  return out;
}

// A candidate in one line, naming its precision where the search tried more than one.
std::string candidate_summary(const PlanCandidate& c, bool precisions_searched) {
  return plan_summary(c.plan, precisions_searched ? std::optional(c.precision) : std::nullopt);
}

nlohmann::json candidate_json(const PlanCandidate& c, bool precisions_searched) {
  const auto& e = c.estimate;
  return {{"parallelism", plan_to_json(c.plan)},
          {"precision", std::string(to_string(c.precision))},
          {"summary", candidate_summary(c, precisions_searched)},
          {"tier", std::string(to_string(c.tier))},
          {"step_time_s", e.step_time_s},
          {"tier1_step_time_s", c.tier1_step_time_s},
          {"tokens_per_s_per_chip", e.tokens_per_s_per_chip},
          {"mfu", e.mfu},
          {"memory_per_chip_bytes", e.memory.total_bytes},
          {"fits_memory", e.memory.fits},
          {"train_days", e.train_days},
          {"cost_usd", e.energy_cost.cost_usd}};
}

// The chips to compare: those named (each checked, with a suggestion), or the scenario's.
std::vector<const Chip*> chips_of(const PlanOptions& options, const Scenario& scenario, const Catalogs& catalogs) {
  std::vector<const Chip*> out;
  for (const auto& id : options.chips) {
    const Chip* chip = catalogs.hardware.find_chip(id);
    if (chip == nullptr) {
      throw InputError("--chips", "", fmt::format("unknown chip \"{}\"{}; known: {}", id,
                                                   did_you_mean(id, catalogs.hardware.chip_ids()),
                                                   fmt::join(catalogs.hardware.chip_ids(), ", ")));
    }
    out.push_back(chip);
  }
  if (out.empty()) out.push_back(&scenario.job.cluster.chip);
  return out;
}

void print_sized(const std::vector<SizedPlan>& rows, const std::string& missing, std::ostream& out) {
  // Within 100 columns: each row's plan on the line below it.
  fmt::print(out, "\n  {:<14} {:>7} {:>12} {:>10} {:>14} {:>7}  plan on the next line\n", "chip", "chips", "train time",
             "cost", "tokens/s/chip", "MFU");
  for (const auto& r : rows) {
    if (!r.best) {
      fmt::print(out, "{}\n", wrap_lines(fmt::format("  {:<14} {:>7}  {}", r.chip, "-", missing), 100, 26));
      continue;
    }
    const auto& e = r.best->estimate;
    fmt::print(out, "  {:<14} {:>7} {:>12} {:>10} {:>14} {:>7}\n", r.chip, r.chips, days(e.train_days),
               usd(e.energy_cost.cost_usd), count(e.tokens_per_s_per_chip), percent(e.mfu));
    fmt::print(out, "{}\n", wrap_lines("    " + plan_summary(r.best->plan), 100, 4));
  }
}

// A line on standard error while a search runs, where a person watches it (a terminal): some take seconds.
void progress(const std::string& line) {
  if (::isatty(STDERR_FILENO)) fmt::print(stderr, "flopcast plan: {}\n", line);
}

// The inverse questions: fewest chips for a deadline, most tokens for a budget, the cost-time Pareto front.
int inverse_questions(const PlanOptions& options, Scenario scenario, const Catalogs& catalogs, std::ostream& out) {
  if (options.tokens) scenario.job.training.tokens = *options.tokens;
  const auto chips = chips_of(options, scenario, catalogs);
  const auto t0 = std::chrono::steady_clock::now();
  const auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const auto& job = scenario.job;
  const std::string prices = job.costs.mode == CostMode::rental ? "catalog rental prices" : "catalog prices";
  if (options.deadline_days) {
    fmt::print(out, "{}\n",
               wrap_lines(fmt::format("Fewest chips to train {} on {} tokens within {:g} days (tier 1, best plan per "
                                      "size; {})",
                                      job.model.name, count(job.training.tokens), *options.deadline_days, prices),
                          100, 2));
    std::vector<SizedPlan> rows;
    for (const Chip* chip : chips) {
      progress(fmt::format("{}: the fewest chips that meet the deadline ...", chip->id));
      auto found = fewest_chips(with_default_fabric(scenario, *chip, catalogs), *chip, *options.deadline_days,
                                options.max_chips, catalogs);
      rows.push_back(found ? std::move(*found) : SizedPlan{chip->id, 0, std::nullopt});
    }
    print_sized(rows,
                fmt::format("not within {:g} days on up to {} chips (more chips cannot raise dp past the global batch "
                            "of {} sequences)",
                            *options.deadline_days, options.max_chips, job.training.global_batch),
                out);
    fmt::print(out, "\n  searched up to {} chips per type in {:.1f} s\n", options.max_chips, wall());
    return 0;
  }
  if (options.budget_usd) {
    fmt::print(out, "{}\n",
               wrap_lines(fmt::format("Most tokens {} buys for {} on {} chips of each type (tier 1, best plan; {})",
                                      job.model.name, usd(*options.budget_usd), job.cluster.chips, prices),
                          100, 2));
    fmt::print(out, "\n  {:<14} {:>14} {:>12} {:>14}  plan on the next line\n", "chip", "tokens", "train time",
               "$ per M tokens");
    for (const Chip* chip : chips) {
      progress(fmt::format("{}: the best plan on {} chips ...", chip->id, job.cluster.chips));
      const auto sized =
          best_plan_at(with_default_fabric(scenario, *chip, catalogs), *chip, job.cluster.chips, catalogs);
      if (!sized.best) {
        fmt::print(out, "  {:<14} no plan fits\n", chip->id);
        continue;
      }
      const auto& e = sized.best->estimate;
      // Cost is linear in tokens at a fixed plan: tokens = budget / ($ per token).
      const double tokens = *options.budget_usd / e.energy_cost.usd_per_mtok * 1e6;
      fmt::print(out, "  {:<14} {:>14} {:>12} {:>14}\n", chip->id, count(tokens), days(tokens / e.tokens_per_s / 86400.0),
                 usd(e.energy_cost.usd_per_mtok));
      fmt::print(out, "{}\n", wrap_lines("    " + plan_summary(sized.best->plan), 100, 4));
    }
    fmt::print(out, "\n  in {:.1f} s\n", wall());
    return 0;
  }
  const int lo = std::max(1, job.cluster.chips / 8);
  const int hi = std::min(options.max_chips, job.cluster.chips * 8);
  fmt::print(out, "{}\n",
             wrap_lines(fmt::format("Cost against time for {} on {} tokens: {} to {} chips per type (tier 1, best plan "
                                    "per size; {})",
                                    job.model.name, count(job.training.tokens), lo, hi, prices),
                        100, 2));
  progress(fmt::format("the best plan at each size from {} to {} chips of {} chip type{} ...", lo, hi, chips.size(),
                       chips.size() == 1 ? "" : "s"));
  const auto front = pareto_front(scenario, chips, lo, hi, catalogs);
  fmt::print(out, "  the Pareto front: no other point is both faster and cheaper\n");
  print_sized(front, "no plan fits", out);
  fmt::print(out, "\n  in {:.1f} s\n", wall());
  return 0;
}

}  // namespace

int plan_scenario(const PlanOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto scenario = load_scenario(options.file, catalogs);
  if (!scenario.job.cluster.stage_chips.empty()) {
    throw InputError(scenario.file, "/cluster/stage_chips",
                     "the plan search does not cover mixed fleets yet (their stage groups are tied to one pp)");
  }
  if (options.deadline_days || options.budget_usd || !options.chips.empty()) {
    if (rank() != 0) return 0;  // the inverse questions run on rank 0 alone
    return inverse_questions(options, scenario, catalogs, out);
  }
  if (options.all != !options.csv_file.empty()) {
    throw InputError(options.all ? "--all" : "--csv", "",
                     "--all and --csv go together: flopcast plan SCENARIO --all --csv FILE writes every plan");
  }
  if (options.all && ranks() > 1) throw InputError("--all", "", "writes every plan from one process: run it without mpirun");
  const auto pinned = pinned_dimensions(options);
  PlanSearchResult result;
  if (!options.json && rank() == 0) {
    progress(fmt::format("searching the plans for {} at tier 1{} ...", scenario.file,
                         options.tier == Tier::analytical
                             ? std::string()
                             : fmt::format(", then re-ranking the best {} at {}", options.top_k, to_string(options.tier))));
  }
  if (ranks() > 1) {
    if (!gather_search(scenario, catalogs, options, result)) return 0;
  } else {
    PlanSearchOptions search;
    search.top_k = options.top_k;
    search.rerank_tier = options.tier;
    search.pinned = pinned;
    search.precisions = asked_precisions(options, scenario);
    std::string csv;
    long rows = 0;
    if (options.all) {
      csv = "tp,sp,tp_comm_overlap,pp,vpp,schedule,layout,dp,ep,ep_comm_overlap,cp,cp_algo,zero,reshard_after_forward,"
            "micro_batch,recompute,recompute_layers,recompute_modules,offload_activation_layers,optimizer_offload_fraction,precision,"
            "status,memory_per_chip_gib,"
            "usable_per_chip_gib,step_time_s,tokens_per_s_per_chip,mfu,train_days,cost_usd,why\n";
      search.each = [&](const EvaluatedPlan& e) {
        const auto& p = e.plan;
        const char* status = e.status == EvaluatedPlan::Status::estimated       ? "estimated"
                             : e.status == EvaluatedPlan::Status::out_of_memory ? "out of memory"
                                                                                : "not runnable";
        const auto modules = p.recompute == Recompute::selective ? recompute_module_names(p.recompute_modules)
                                                                  : std::vector<std::string>{};
        csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:g},{},{},{:.3f},{:.3f}", p.tp,
                           p.sp ? 1 : 0,
                           p.tp_comm_overlap ? 1 : 0, p.pp, p.vpp, to_string(p.schedule), to_string(p.layout), p.dp, p.ep,
                           p.ep_comm_overlap ? 1 : 0, p.cp, to_string(p.cp_algo),
                           p.zero, p.reshard_after_forward ? 1 : 0, p.micro_batch, to_string(p.recompute),
                           p.recompute_layers, csv_field(join(modules, " ")), p.offload_activation_layers,
                           p.optimizer_offload_fraction, to_string(e.precision), status,
                           e.memory.total_bytes / kBytesPerGiB,
                           e.memory.usable_bytes / kBytesPerGiB);
        if (e.estimate) {
          const auto& t = *e.estimate;
          csv += fmt::format(",{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},", t.step_time_s, t.tokens_per_s_per_chip, t.mfu,
                             t.train_days, t.energy_cost.cost_usd);
        } else {
          csv += ",,,,,,";
        }
        csv += csv_field(e.why) + "\n";
        ++rows;
      };
    }
    result = search_plans(scenario, catalogs, search);
    if (options.all) {
      write_file_atomic(options.csv_file, csv);
      if (!options.json) {
        fmt::print(out, "Every plan of the space ({} rows, tier 1 in full for the {} that fit and run) written to {}\n\n",
                   rows, result.evaluated, options.csv_file);
      }
    }
  }
  // With more than one precision searched, each plan names its own.
  const bool searched = result.precisions.size() > 1;
  if (options.json) {
    nlohmann::json j = {{"name", scenario.name},
                        {"file", scenario.file},
                        {"enumerated", result.enumerated},
                        {"out_of_memory", result.out_of_memory},
                        {"pruned_by_memory", result.pruned_by_memory},
                        {"offloaded", result.offloaded},
                        {"optimizer_offloaded", result.optimizer_offloaded},
                        {"dominated", result.dominated},
                        {"pinned", result.pinned},
                        {"precisions", precision_names(result.precisions)},
                        {"invalid", result.invalid},
                        {"evaluated", result.evaluated},
                        {"pipelines_walked", result.pipelines_walked},
                        {"reranked", result.reranked},
                        {"tier_gap", kTierGap},
                        {"tier_gaps", {{"no_pipeline", kTierGapNoPipeline}}},
                        {"best", nlohmann::json::array()}};  // no wall-clock times: the same search, the same bytes
    for (const auto schedule : {Schedule::one_f_one_b, Schedule::interleaved, Schedule::dualpipe,
                                Schedule::zero_bubble, Schedule::zero_bubble_v, Schedule::gpipe}) {
      j["tier_gaps"][std::string(to_string(schedule))] = tier_gap({.pp = 2, .schedule = schedule});
    }
    for (const auto& c : result.best) j["best"].push_back(candidate_json(c, searched));
    if (result.given) j["scenario_plan"] = candidate_json(*result.given, searched);
    if (!result.precision_best.empty()) {
      j["best_per_precision"] = nlohmann::json::array();
      for (const auto& c : result.precision_best) j["best_per_precision"].push_back(candidate_json(c, searched));
    }
    out << j.dump(2) << '\n';
    return 0;
  }
  const auto& job = scenario.job;
  fmt::print(out, "{}\n", wrap_lines(fmt::format("Plan search: {}  ({})", scenario.name, scenario.file), 100, 2));
  fmt::print(out, "  job          {} on {} x {} in {}-chip nodes;\n               {} sequences of {} tokens per step, {}\n",
             job.model.name, job.cluster.chips, job.cluster.chip.id, job.cluster.node.chip_count(),
             job.training.global_batch, job.training.seq_len,
             searched ? fmt::format("{} searched (the file: {})", join(precision_names(result.precisions), ", "),
                                    to_string(job.training.precision))
                      : std::string(to_string(job.training.precision)));
  const double rate = result.tier1_wall_s > 0 ? static_cast<double>(result.enumerated) / result.tier1_wall_s : 0.0;
  fmt::print(out, "  space        {} plans{} in {:.3f} s ({:.0f} plans/s, tier 1):\n", result.enumerated,
             result.pinned.empty() ? "" : fmt::format(" with {} pinned", join(result.pinned, ", ")), result.tier1_wall_s,
             rate);
  if (result.dominated > 0) {
    fmt::print(out, "               {} without TP overlap, never faster than with it (not modelled)\n", result.dominated);
  }
  fmt::print(out, "               {} out of memory ({} of them known from a smaller micro-batch), {} not runnable\n"
                  "               {} estimated: {} with the pipeline's fill and drain walked, the rest bounded\n"
                  "               out of the best {} without it\n",
             result.out_of_memory, result.pruned_by_memory, result.invalid, result.evaluated, result.pipelines_walked,
             options.top_k);
  if (result.offloaded > 0) {
    fmt::print(out, "               {} fit only with activations offloaded to host memory (the fewest layers that\n"
                    "               fit: more never shorten the step)\n",
               result.offloaded);
  }
  if (result.optimizer_offloaded > 0) {
    fmt::print(out, "               {} fit only with optimizer states in host memory (the least sixteenths of the\n"
                    "               shard that fit, updated by a CPU Adam: more never shorten the step)\n",
               result.optimizer_offloaded);
  }
  if (result.best.empty()) {
    fmt::print(out, "  no plan fits in memory and divides this cluster and batch\n");
    return 0;
  }
  if (options.tier != Tier::analytical) {
    fmt::print(out, "  re-ranked    {} at {} in {:.2f} s: the best {}{}\n", result.reranked, to_string(options.tier),
               result.rerank_wall_s, options.top_k,
               result.reranked > options.top_k
                   ? fmt::format(",\n               and the best of {} other schedule{} that tier 2 could rank among them "
                                 "(tier 2 is up to\n               {:.0f} % faster than tier 1: {:.0f} % with 1F1B, "
                                 "ZB-H1 or DualPipe, {:.0f} % without a pipeline)",
                                 result.reranked - options.top_k, result.reranked - options.top_k == 1 ? "" : "s",
                                 100 * kTierGap,
                                 100 * kTierGap1F1B, 100 * kTierGapNoPipeline)
                   : std::string());
  }
  fmt::print(out, "\n  {:>4} {:>11} {:>11} {:>14} {:>7} {:>12}  plan on the next line\n", "rank", "step time", "tier 1",
             "tokens/s/chip", "MFU", "memory/chip");
  const auto row = [&](const std::string& label, const PlanCandidate& c) {
    fmt::print(out, "  {:>4} {:>11} {:>11} {:>14} {:>7} {:>12}\n         {}\n", label, seconds(c.estimate.step_time_s),
               seconds(c.tier1_step_time_s), count(c.estimate.tokens_per_s_per_chip), percent(c.estimate.mfu),
               bytes(c.estimate.memory.total_bytes), candidate_summary(c, searched));
  };
  for (std::size_t i = 0; i < result.best.size(); ++i) row(fmt::format("{}", i + 1), result.best[i]);
  if (result.given) {
    row("file", *result.given);
    const double gain = result.given->estimate.step_time_s / result.best.front().estimate.step_time_s;
    fmt::print(out, "\n  the scenario's own plan (\"file\") {}; the best is {:.2f}x its throughput{}\n",
               result.given->estimate.memory.fits ? "fits in memory" : "does NOT fit in memory", gain,
               gain >= 1.0 ? ""
               : result.given->tier1_step_time_s < result.best.front().tier1_step_time_s
                   ? " (the file's plan is outside the searched space, or pinned out of it)"
                   : " (tier 1 ranked the file's plan below those re-ranked; tier 2 puts it first)");
  }
  if (result.precision_best.size() > 1) {
    // What each precision buys: its own best plan, against the slowest precision's.
    fmt::print(out, "\n  the best plan of each precision searched:\n");
    double slowest = 0;
    for (const auto& c : result.precision_best) slowest = std::max(slowest, c.estimate.step_time_s);
    for (const auto& c : result.precision_best) {
      row(std::string(to_string(c.precision)), c);
      fmt::print(out, "         {:.2f}x the throughput of the slowest precision's best\n",
                 slowest / c.estimate.step_time_s);
    }
  }
  return 0;
}

}  // namespace flopcast::cli
