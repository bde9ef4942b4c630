// flopcast serve: a serving deployment, request by request (or at tier 1), its throughput, latency, goodput,
// KV cache, energy and $ per million tokens; several side by side; or the best plan per chip type.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/studies/serving_fit.hpp"
#include "flopcast/studies/serving_search.hpp"
#include "flopcast/studies/validation.hpp"
#include "flopcast/sim/serve_sim.hpp"
#include "format.hpp"

namespace flopcast::cli {
namespace {

std::string plan_text(const ServingPlan& p) {
  std::string text = fmt::format("tp {}", p.tp);
  if (p.dp_attention > 1) text += fmt::format(", dp_attention {}", p.dp_attention);
  if (p.ep > 1) text += fmt::format(", ep {}", p.ep);
  if (p.pp > 1) text += fmt::format(", pp {}", p.pp);
  return text;
}

std::string latency_text(const LatencyStats& l) {
  return fmt::format("p50 {}, p90 {}, p99 {}", seconds(l.p50_s), seconds(l.p90_s), seconds(l.p99_s));
}

std::string rate_text(double per_s, double per_chip, double per_node) {
  return fmt::format("{} tokens/s ({} per chip, {} per node)", count(per_s), count(per_chip), count(per_node));
}

std::string workload_text(const Workload& w) {
  std::string lengths = w.lengths == LengthDistribution::fixed ? "fixed" : "exponential";
  switch (w.arrival) {
    case ArrivalKind::poisson:
      return fmt::format("Poisson {:g} requests/s, {} requests of {:g} input and {:g} output tokens ({}), seed {}",
                         w.rate_per_s, w.requests, w.input_tokens, w.output_tokens, lengths, w.seed);
    case ArrivalKind::concurrency:
      return fmt::format("{} concurrent clients, {} requests of {:g} input and {:g} output tokens ({}), seed {}",
                         w.concurrency, w.requests, w.input_tokens, w.output_tokens, lengths, w.seed);
    case ArrivalKind::trace: return fmt::format("trace of {} requests", w.trace.size());
    case ArrivalKind::offline:
      return fmt::format("offline: {} requests of {:g} input and {:g} output tokens ({}) queued at the start, seed {}",
                         w.requests, w.input_tokens, w.output_tokens, lengths, w.seed);
  }
  return "";
}

void print_pool(const ServingPoolResult& p, std::ostream& out) {
  const auto& m = p.memory;
  const std::string role = p.role == PoolRole::both ? "pool" : fmt::format("{} pool", to_string(p.role));
  fmt::print(out, "  {:<12} {} instances of {} chips ({}); batch up to {} sequences and {} tokens per step per rank\n",
             role, p.instances, p.plan.chips(), plan_text(p.plan), p.batching.max_running, p.batching.max_batch_tokens);
  if (const auto& graphs = p.batching.graph_batch_sizes; !graphs.empty()) {
    fmt::print(out, "  {:<12} decode-only steps padded to a CUDA graph of {} to {} sequences per rank ({} sizes)\n", "",
               graphs.front(), graphs.back(), graphs.size());
  }
  fmt::print(out, "  {:<12} weights {}, workspace {}, reserved {}, KV cache {} = {} tokens per attention rank ({} per "
                  "token per chip)\n",
             "memory/chip", bytes(m.weights_bytes), bytes(m.workspace_bytes), bytes(m.reserved_bytes), bytes(m.kv_bytes),
             count(static_cast<double>(m.kv_capacity_tokens)), bytes(m.kv_bytes_per_token));
  fmt::print(out, "  {:<12} busy {}, prefill {} of busy time; KV occupancy mean {}, max {}; mean batch {:.1f} "
                  "sequences per rank; {} steps\n",
             "", percent(p.busy_fraction), percent(p.prefill_share), percent(p.kv_occupancy_mean),
             percent(p.kv_occupancy_max), p.mean_batch_seqs, p.steps);
}

void print_result(const Scenario& s, const ServingJob& job, const ServingResult& r, std::ostream& out) {
  const auto& c = job.cluster;
  const auto& setup = job.serving;
  const auto& m = job.model;
  fmt::print(out, "{}  ({})\n", s.name, s.file);
  const std::string experts = setup.expert_weight_type == setup.weight_type
                                  ? std::string()
                                  : fmt::format(" ({} experts)", to_string(setup.expert_weight_type));
  fmt::print(out, "  model        {} ({}), {}, {}; {} weights{}, {} KV cache\n", m.name, s.model_ref,
             m.is_moe() ? fmt::format("MoE {} experts, top-{}", m.moe->experts, m.moe->top_k) : "dense",
             to_string(m.attention), to_string(setup.weight_type), experts, to_string(setup.kv_type));
  fmt::print(out, "  cluster      {} x {} in {} x {}; {}\n", c.chips, c.chip.id, c.nodes, c.node.id,
             setup.disaggregated() ? "prefill and decode disaggregated" : "prefill and decode in the same instances");
  for (const auto& pool : r.pools) print_pool(pool, out);
  fmt::print(out, "  workload     {}\n", workload_text(setup.workload));
  if (setup.mtp.draft_tokens > 0 || setup.prefix_cache_hit_rate > 0 || setup.two_batch_overlap) {
    fmt::print(out, "  options      MTP {} draft tokens at {} acceptance ({:.2f} tokens per step); prefix cache hits {}; "
                    "two-batch overlap {}\n",
               setup.mtp.draft_tokens, percent(setup.mtp.acceptance_rate), setup.mtp.expected_tokens_per_step(),
               percent(setup.prefix_cache_hit_rate), setup.two_batch_overlap ? "on" : "off");
  }
  fmt::print(out, "  input        {}\n", rate_text(r.input_tokens_per_s, r.input_tokens_per_s_per_chip,
                                                  r.input_tokens_per_s_per_node));
  fmt::print(out, "  output       {}\n", rate_text(r.output_tokens_per_s, r.output_tokens_per_s_per_chip,
                                                  r.output_tokens_per_s_per_node));
  fmt::print(out, "  TTFT         {} (mean {})\n", latency_text(r.ttft), seconds(r.ttft.mean_s));
  fmt::print(out, "  TPOT         {} (mean {})\n", latency_text(r.tpot), seconds(r.tpot.mean_s));
  fmt::print(out, "  end to end   {}\n", latency_text(r.e2e));
  fmt::print(out, "  goodput      {} of requests within the SLO (TTFT <= {}, TPOT <= {}): {:.3g} requests/s, {} output "
                  "tokens/s\n",
             percent(r.goodput_fraction), seconds(setup.slo.ttft_s), seconds(setup.slo.tpot_s),
             r.goodput_requests_per_s, count(r.goodput_output_tokens_per_s));
  fmt::print(out, "  utilisation  MFU {} (model FLOP/s per chip over dense bf16 peak); {} requests in the system on "
                  "average at {:.3g} requests/s\n",
             percent(r.mfu), fmt::format("{:.1f}", r.mean_requests_in_system), r.arrival_rate_per_s);
  fmt::print(out, "  energy       {} facility power; {} per M tokens\n",
             fmt::format("{:.1f} kW", r.facility_power_w / 1e3), energy_kwh(r.kwh_per_mtok));
  fmt::print(out, "  cost         {} per hour ({}); {} per M input tokens, {} per M output tokens ({} per M tokens "
                  "overall)\n",
             usd(r.usd_per_hour), job.costs.mode == CostMode::rental ? "rental" : "ownership", usd(r.usd_per_m_input),
             usd(r.usd_per_m_output), usd(r.usd_per_m_tokens));
  // The model's cross-validated error on published serving runs, as a range on each headline figure: throughput's
  // p10 is its lower end, a time's or a price's its higher.
  const auto range = [&](double value, auto format) {
    const auto [low, high] = serving_range(r, value);
    return fmt::format("{} to {}", format(low), format(high));
  };
  const auto time_range = [&](double value) {
    const auto [low, high] = serving_range(r, value);
    return seconds_range(low, high);
  };
  fmt::print(out, "  80 % range   output {} tokens/s per chip; TTFT p50 {}; TPOT p50 {}; {} per M tokens (the serving "
                  "model's cross-validated error on published {} runs)\n",
             range(r.output_tokens_per_s_per_chip, count), time_range(r.ttft.p50_s), time_range(r.tpot.p50_s),
             range(r.usd_per_m_tokens, usd), m.is_moe() ? "MoE" : "dense");
  if (s.serving->published) {
    const auto& p = *s.serving->published;
    const double predicted = serving_metric(r, p.metric);
    fmt::print(out, "  published    {} {}{:g} ({}); predicted {:.4g}: {:+.1f} %{}\n", p.run, p.lower_bound ? "> " : "",
               p.value, p.metric, predicted, 100.0 * (predicted / p.value - 1.0),
               p.lower_bound ? (predicted >= p.value ? ", consistent with the bound" : ", below the bound") : "");
  }
  fmt::print(out, "  simulated    {} requests, {} engine steps, {} wall ({})\n", r.requests, r.simulated_steps,
             seconds(r.wall_s), r.tier);
  for (const auto& note : r.notes) fmt::print(out, "  note         {}\n", note);
}

void print_comparison(const std::vector<std::pair<const Scenario*, ServingResult>>& rows, std::ostream& out) {
  fmt::print(out, "\n{:<34} {:>6} {:>14} {:>14} {:>10} {:>10} {:>8} {:>11} {:>11} {:>10}\n", "scenario", "chips",
             "in tok/s/chip", "out tok/s/chip", "TTFT p90", "TPOT p90", "goodput", "$/M input", "$/M output",
             "kWh/M tok");
  for (const auto& [s, r] : rows) {
    fmt::print(out, "{:<34} {:>6} {:>14} {:>14} {:>10} {:>10} {:>8} {:>11} {:>11} {:>10.3f}\n", s->name.substr(0, 34),
               s->job.cluster.chips, count(r.input_tokens_per_s_per_chip), count(r.output_tokens_per_s_per_chip),
               seconds(r.ttft.p90_s), seconds(r.tpot.p90_s), percent(r.goodput_fraction), usd(r.usd_per_m_input),
               usd(r.usd_per_m_output), r.kwh_per_mtok);
  }
}

nlohmann::json plan_json(const ServingPlan& p) {
  return {{"tp", p.tp}, {"pp", p.pp}, {"dp_attention", p.dp_attention}, {"ep", p.ep}};
}

int search(const ServeOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto scenario = load_scenario(options.files.front(), catalogs);
  const auto result = search_serving(scenario, options.chips, catalogs);
  if (options.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& b : result.best) {
      rows.push_back({{"chip", b.chip},
                      {"plan", plan_json(b.plan)},
                      {"max_running", b.max_running},
                      {"meets_slo", b.meets_slo},
                      {"estimate", serving_result_to_json(b.estimate)}});
      rows.back()["estimate"].erase("wall_s");
    }
    out << nlohmann::json{{"scenario", scenario.name}, {"evaluated", result.evaluated}, {"best", rows}}
               .dump(2)
        << '\n';
    return 0;
  }
  const auto& slo = scenario.serving->setup.slo;
  fmt::print(out, "{}\n\n",
             wrap_lines(fmt::format("{}: the best serving plan per chip type at tier 1, prefill and decode together, "
                                    "SLO TTFT <= {} and TPOT <= {}",
                                    scenario.name, seconds(slo.ttft_s), seconds(slo.tpot_s)),
                        100, 2));
  // Within 100 columns: the plan after the chip's name, the figures on the line below.
  fmt::print(out, "{:<14} {:>6}  plan\n{:>21} {:>14} {:>10} {:>10} {:>11} {:>11}\n", "chip", "chips", "batch",
             "out tok/s/chip", "TTFT", "TPOT", "$/M input", "$/M output");
  for (const auto& b : result.best) {
    if (b.max_running == 0) {
      fmt::print(out, "{:<14} {}\n", b.chip, b.estimate.notes.empty() ? "no plan" : b.estimate.notes.front());
      continue;
    }
    const auto& e = b.estimate;
    fmt::print(out, "{:<14} {:>6}  {}{}\n{:>21} {:>14} {:>10} {:>10} {:>11} {:>11}\n", b.chip, b.plan.chips(),
               plan_text(b.plan), b.meets_slo ? "" : "  (misses the SLO)", b.max_running,
               count(e.output_tokens_per_s_per_chip), seconds(e.ttft.p50_s), seconds(e.tpot.p50_s),
               usd(e.usd_per_m_input), usd(e.usd_per_m_output));
  }
  fmt::print(out, "\n{} plans and batch sizes estimated in {} ({:.0f} per second)\n", result.evaluated,
             seconds(result.wall_s), result.evaluated / std::max(result.wall_s, 1e-9));
  return 0;
}


// At most `rows` points of a front, evenly spread along it, its first and last among them.
std::vector<const ServingChoice*> thinned(const std::vector<ServingChoice>& front, std::size_t rows) {
  std::vector<const ServingChoice*> out;
  if (front.empty()) return out;
  const std::size_t n = front.size();
  const std::size_t shown = std::min(n, rows);
  for (std::size_t i = 0; i < shown; ++i) {
    out.push_back(&front[shown == 1 ? 0 : i * (n - 1) / (shown - 1)]);
  }
  return out;
}

// The throughput-interactivity curve per chip type: the Pareto front of the plan search's points.
int curve(const ServeOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto scenario = load_scenario(options.files.front(), catalogs);
  const auto result = search_serving(scenario, options.chips, catalogs);
  if (options.json) {
    nlohmann::json curves = nlohmann::json::array();
    for (std::size_t c = 0; c < result.fronts.size(); ++c) {
      nlohmann::json points = nlohmann::json::array();
      for (const auto& p : result.fronts[c]) {
        points.push_back({{"tokens_per_s_per_user", tokens_per_s_per_user(p)},
                          {"output_tokens_per_s_per_chip", p.estimate.output_tokens_per_s_per_chip},
                          {"tpot_s", p.estimate.tpot.p50_s},
                          {"ttft_s", p.estimate.ttft.p50_s},
                          {"plan", plan_json(p.plan)},
                          {"max_running", p.max_running},
                          {"usd_per_m_output", p.estimate.usd_per_m_output}});
      }
      curves.push_back({{"chip", result.best[c].chip}, {"points", points}});
    }
    out << nlohmann::json{{"scenario", scenario.name}, {"evaluated", result.evaluated}, {"curves", curves}}.dump(2)
        << '\n';
    return 0;
  }
  const auto& w = scenario.serving->setup.workload;
  fmt::print(out, "{}: output tokens/s per chip against output tokens/s per user (1 / TPOT)\n", scenario.name);
  fmt::print(out, "The best plan and batch at each point: tier 1 steady state under a closed loop of requests of {:g} "
                  "input and\n{:g} output tokens; the SLO not applied.\n",
             w.input_tokens, w.output_tokens);
  for (std::size_t c = 0; c < result.fronts.size(); ++c) {
    const auto& front = result.fronts[c];
    fmt::print(out, "\n{}: {} points on the front{}\n", result.best[c].chip, front.size(),
               front.size() > 12 ? " (12 shown, evenly along it; all with --json)" : "");
    if (front.empty()) continue;
    fmt::print(out, "  {:>10} {:>14} {:>10} {:>10} {:<48} {:>6} {:>11}\n", "tok/s/user", "out tok/s/chip", "TPOT", "TTFT",
               "plan", "batch", "$/M output");
    for (const auto* p : thinned(front, 12)) {
      const auto& e = p->estimate;
      fmt::print(out, "  {:>10.1f} {:>14} {:>10} {:>10} {:<48} {:>6} {:>11}\n", tokens_per_s_per_user(*p),
                 count(e.output_tokens_per_s_per_chip), seconds(e.tpot.p50_s), seconds(e.ttft.p50_s),
                 plan_text(p->plan) + fmt::format(" ({} chips)", p->plan.chips()), p->max_running,
                 usd(e.usd_per_m_output));
    }
  }
  fmt::print(out, "\n{} plans and batch sizes estimated in {}\n", result.evaluated, seconds(result.wall_s));
  return 0;
}

// What a validation deployment measures, from its workload: one side of a disaggregated deployment, or the balance
// of input and output lengths.
std::string workload_kind(const ServingSetup& s) {
  const auto& w = s.workload;
  if (w.output_tokens <= 1) return "prefill only";
  if (s.prefix_cache_hit_rate >= 0.9) return "decode only";
  if (w.input_tokens >= 4 * w.output_tokens) return "input-heavy";
  if (w.output_tokens >= 4 * w.input_tokens) return "output-heavy";
  return "balanced";
}

struct ValidationRow {
  std::string run;
  std::string chip;
  std::string engine;
  std::string model;
  std::string kind;
  std::string metric;
  std::string failure;  // why it could not be simulated (left out of the errors)
  double published = 0;
  double predicted = 0;
  bool lower_bound = false;
  double error() const { return predicted / published - 1.0; }
};

void print_slices(const std::vector<ValidationRow>& rows, std::ostream& out) {
  std::map<std::string, std::vector<double>> slices;
  for (const auto& r : rows) {
    if (r.lower_bound || !r.failure.empty()) continue;
    for (const auto& key : {std::string("all"), "chip " + r.chip, "engine " + r.engine, "model " + r.model,
                            "workload " + r.kind}) {
      slices[key].push_back(r.error());
    }
  }
  fmt::print(out, "\n{:<34} {:>5} {:>15} {:>12} {:>13}\n", "slice (lower bounds left out)", "runs", "median |error|",
             "p90 |error|", "median error");
  // The same statistics as the training validation's (flopcast/studies/validation.hpp).
  const auto line = [&](const std::string& key, const std::vector<double>& e) {
    std::vector<double> magnitudes(e.size());
    std::transform(e.begin(), e.end(), magnitudes.begin(), [](double x) { return std::abs(x); });
    fmt::print(out, "{:<34} {:>5} {:>13.1f} % {:>10.1f} % {:>+11.1f} %\n", key.substr(0, 34), e.size(),
               100.0 * median(magnitudes), 100.0 * percentile_90(magnitudes), 100.0 * median(e));
  };
  line("all", slices["all"]);
  for (const auto& [key, errors] : slices) {
    if (key != "all") line(key, errors);
  }
}

// A deployment's row before its prediction.
ValidationRow row_of(const Scenario& scenario, const ServingJob& job) {
  if (!scenario.serving->published) {
    throw InputError(scenario.file, "/serving/published", "is required to validate against (flopcast serve --validate)");
  }
  const auto& p = *scenario.serving->published;
  ValidationRow row;
  row.run = p.run;
  row.chip = job.cluster.chip.id;
  row.engine = p.engine.empty() ? "unnamed" : p.engine;
  row.model = scenario.model_ref;
  row.kind = workload_kind(job.serving);
  row.metric = p.metric;
  row.published = p.value;
  row.lower_bound = p.lower_bound;
  return row;
}

std::string overheads_text(const ServingOverheads& o) {
  return fmt::format("{} per step, {} per layer, expert load cv {:g}", seconds(o.per_step_s), seconds(o.per_layer_s),
                     o.expert_load_cv);
}

// The serving overheads fitted to the published figures, in sample and leaving one source out, and the spread of
// the cross-validated errors.
int cross_validate(const std::vector<Scenario>& scenarios, const Catalogs& catalogs, std::ostream& out) {
  std::vector<ValidationRow> rows;
  for (const auto& scenario : scenarios) rows.push_back(row_of(scenario, serving_job(scenario)));
  const bool progress = ::isatty(STDERR_FILENO);
  const auto grid = serving_overhead_grid(catalogs.assumptions);
  const ServingFit fit = fit_serving(scenarios, catalogs.assumptions, grid, [&](std::size_t done, std::size_t total) {
    if (progress && (done % 20 == 0 || done == total)) fmt::print(stderr, "\r[{}/{} simulations]", done, total);
  });
  if (progress) fmt::print(stderr, "\r{:40}\r", "");
  fmt::print(out, "Serving overheads and expert load fitted to {} published figures (lower bounds left out), {} grid "
                  "points:\n",
             fit.runs.size(), grid.size());
  fmt::print(out, "  in use          {}\n", overheads_text(fit.grid[fit.current]));
  fmt::print(out, "  best in sample  {}\n", overheads_text(fit.grid[fit.best]));
  std::map<std::size_t, int> chosen;
  for (const auto& r : fit.runs) {
    if (r.failure.empty()) ++chosen[r.loso_point];
  }
  for (const auto& [point, runs] : chosen) {
    fmt::print(out, "  leave one source out chose {} for {} runs\n", overheads_text(fit.grid[point]), runs);
  }
  const auto slices_at = [&](auto point) {
    std::vector<ValidationRow> at;
    for (const auto& r : fit.runs) {
      if (!r.failure.empty()) continue;
      ValidationRow row = rows[r.deployment];
      row.predicted = r.predicted[point(r)];
      at.push_back(row);
    }
    return at;
  };
  const auto spread = [&](const ServingSpread& s) {
    fmt::print(out, "Spread (log space, 80 % of the errors within p10-p90): dense {:.3f}, MoE {:.3f}; inside p10-p90 "
                    "when the spread is made without the run's table: {:.0f} % of {} runs\n",
               s.log_sigma_dense, s.log_sigma_moe, 100.0 * s.coverage, fit.runs.size());
  };
  fmt::print(out, "\nIn use ({}; no serving figure set them, so these errors are out of sample):",
             overheads_text(fit.grid[fit.current]));
  print_slices(slices_at([&](const ServingFitRun&) { return fit.current; }), out);
  spread(fit.at_current);
  fmt::print(out, "\nIn sample, at the best fit:");
  print_slices(slices_at([&](const ServingFitRun&) { return fit.best; }), out);
  fmt::print(out, "\nLeave one source out (each run predicted by the fit made without its table):");
  print_slices(slices_at([](const ServingFitRun& r) { return r.loso_point; }), out);
  spread(fit.loso);
  return 0;
}

// Each deployment's prediction against the figure it publishes, then the errors by chip, engine, model and
// workload.
int validate(const std::vector<Scenario>& scenarios, Tier tier, const Catalogs& catalogs, std::ostream& out) {
  std::vector<ValidationRow> rows;
  const bool progress = ::isatty(STDERR_FILENO);
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const auto& scenario = scenarios[i];
    const ServingJob job = serving_job(scenario);
    ValidationRow row = row_of(scenario, job);
    if (progress) fmt::print(stderr, "\r[{}/{}] {:<70.70}", i + 1, scenarios.size(), scenario.name);
    const auto& p = *scenario.serving->published;
    try {
      const ServingResult result =
          tier == Tier::analytical
              ? estimate_serving(job, build_topology(topology_spec(job.cluster)), catalogs.assumptions)
              : simulate_serving(job, catalogs.assumptions);
      row.predicted = serving_metric(result, p.metric);
    } catch (const ModelError& error) {
      row.failure = error.what();
    }
    rows.push_back(row);
  }
  if (progress) fmt::print(stderr, "\r{:80}\r", "");
  fmt::print(out, "Serving validation: {} deployments against published figures ({})\n\n", rows.size(),
             tier == Tier::analytical ? "tier 1, steady state" : "request-level simulation");
  fmt::print(out, "{:<52} {:<13} {:<13} {:>10} {:>10} {:>8}\n", "run", "engine", "workload", "published", "predicted",
             "error");
  for (const auto& r : rows) {
    if (!r.failure.empty()) {
      fmt::print(out, "{:<52} {:<13} {:<13} {:>10}   not simulated: {}\n", r.run.substr(0, 52), r.engine.substr(0, 13),
                 r.kind, count(r.published), r.failure);
      continue;
    }
    const std::string unit = r.metric.rfind("input", 0) == 0 ? " in" : "";
    fmt::print(out, "{:<52} {:<13} {:<13} {:>10} {:>10} {:>+7.1f} %{}{}\n", r.run.substr(0, 52), r.engine.substr(0, 13),
               r.kind, (r.lower_bound ? "> " : "") + count(r.published), count(r.predicted), 100.0 * r.error(),
               unit, r.lower_bound ? (r.predicted >= r.published ? " (bound met)" : " (below the bound)") : "");
  }
  fmt::print(out, "\nFigures are tokens/s per chip (output tokens unless marked \"in\"; per node where the run publishes "
                  "per node).\n");
  print_slices(rows, out);
  return 0;
}

}  // namespace

int serve_scenarios(const ServeOptions& options, const Catalogs& catalogs, std::ostream& out) {
  if (options.search) return search(options, catalogs, out);
  if (options.curve) return curve(options, catalogs, out);
  if (options.validate) {
    std::vector<Scenario> scenarios;
    for (const auto& file : options.files) scenarios.push_back(load_scenario(file, catalogs));
    return options.cross_validate ? cross_validate(scenarios, catalogs, out)
                                  : validate(scenarios, options.tier, catalogs, out);
  }
  std::vector<Scenario> scenarios;
  for (const auto& file : options.files) scenarios.push_back(load_scenario(file, catalogs));
  std::vector<std::pair<const Scenario*, ServingResult>> rows;
  nlohmann::json json = nlohmann::json::array();
  for (const auto& scenario : scenarios) {
    const ServingJob job = serving_job(scenario);
    ServingResult result;
    try {
      if (options.tier == Tier::analytical) {
        result = estimate_serving(job, build_topology(topology_spec(job.cluster)), catalogs.assumptions);
      } else {
        result = simulate_serving(job, catalogs.assumptions);
      }
    } catch (const ModelError& error) {
      throw ModelError(fmt::format("{}: {}", scenario.file, error.what()));
    }
    if (options.json) {
      nlohmann::json entry{{"scenario", scenario.resolved}, {"file", scenario.file}, {"result", serving_result_to_json(result)}};
      entry["result"].erase("wall_s");  // the simulation's own run time: JSON output is the same bytes every time
      if (const auto& p = scenario.serving->published) {
        const double predicted = serving_metric(result, p->metric);
        entry["published"] = {{"run", p->run}, {"metric", p->metric}, {"value", p->value},
                              {"lower_bound", p->lower_bound}, {"predicted", predicted},
                              {"error_percent", 100.0 * (predicted / p->value - 1.0)}};
      }
      json.push_back(entry);
    } else {
      if (!rows.empty()) out << '\n';
      std::ostringstream text;
      print_result(scenario, job, result, text);
      out << wrap_lines(text.str(), 100, 15);  // within 100 columns, under the labels' column
    }
    rows.emplace_back(&scenario, std::move(result));
  }
  if (options.json) {
    out << (json.size() == 1 ? json.front() : json).dump(2) << '\n';
  } else if (rows.size() > 1) {
    print_comparison(rows, out);
  }
  return 0;
}

}  // namespace flopcast::cli
