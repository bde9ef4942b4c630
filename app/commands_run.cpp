#include <algorithm>
#include <cmath>
#include <functional>

#include <unistd.h>

#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/scenarios/uncertainty.hpp"
#include "format.hpp"

namespace flopcast::cli {

namespace {

std::string plan_text(const TrainingJob& job) {
  const auto& p = job.plan;
  std::string text = fmt::format("tp {}, pp {}, dp {}", p.tp, p.pp, p.dp);
  if (p.ep > 1) text += fmt::format(", ep {}", p.ep);
  if (p.etp > 1) text += fmt::format(", etp {}", p.etp);
  if (p.cp > 1) text += fmt::format(", cp {}", p.cp);
  if (p.vpp > 1) text += fmt::format(", vpp {}", p.vpp);
  if (p.sp) text += ", sp";
  text += fmt::format(", {} schedule, zero {}, recompute {}, micro-batch {}, {}", to_string(p.schedule), p.zero,
                      recompute_text(p), p.micro_batch, to_string(job.training.precision));
  if (p.sends_block()) text += ", pipeline sends blocking";
  if (p.gradient_bytes < 4.0) text += ", bf16 gradients";
  if (p.moe_capacity_factor > 0) text += fmt::format(", experts padded to capacity {:g}", p.moe_capacity_factor);
  if (p.offload_activation_layers > 0) {
    text += fmt::format(", {} layers' activations offloaded", p.offload_activation_layers);
  }
  if (p.optimizer_offload_fraction > 0) {
    text += fmt::format(", {:g} % of optimizer states offloaded", 100 * p.optimizer_offload_fraction);
  }
  return text;
}

std::string model_text(const Scenario& s, const TrainingEstimate& e) {
  const auto& m = s.job.model;
  std::string kind = m.is_moe() ? fmt::format("MoE {} experts, top-{}", m.moe->experts, m.moe->top_k) : "dense";
  return fmt::format("{} ({}): {} params, {} active, {}, {}", m.name, s.model_ref, count(e.params.total),
                     count(e.params.active), kind, to_string(m.attention));
}

std::string range(const Interval& i, const std::function<std::string(double)>& text) {
  return fmt::format("{} to {}", text(i.p10), text(i.p90));
}

// The p10-p90 ranges and where they come from.
void print_intervals(const PredictionIntervals& p, std::ostream& out) {
  fmt::print(out, "  p10-p90      step time {}, training {}, cost {}, {} per M tokens\n",
             seconds_range(p.step_time_s.p10, p.step_time_s.p90), days_range(p.train_days.p10, p.train_days.p90), range(p.cost_usd, usd),
             range(p.usd_per_mtok, usd));
  fmt::print(out, "               model spread {:.1f} % (log sigma; {}{})\n", 100.0 * p.model_log_sigma,
             !p.spread_slice.empty() ? "the " + p.spread_slice + " calibration runs'"
             : p.calibrated          ? std::string("chip family calibrated")
                                     : std::string("chip family without calibration runs"),
             p.spread_source.find("cross-validated") == 0 ? ", cross-validated" : ", prior");
  const std::size_t shown = std::min<std::size_t>(p.inputs.size(), 4);
  for (std::size_t k = 0; k < shown; ++k) {
    const auto& i = p.inputs[k];
    fmt::print(out, "               {} {:g} ({:g} to {:g} {}): step time x{:.2f} to x{:.2f}, cost x{:.2f} to x{:.2f}\n",
               i.name, i.value, i.low, i.high, i.unit, i.step_ratio_low, i.step_ratio_high, i.cost_ratio_low,
               i.cost_ratio_high);
  }
  if (p.inputs.size() > shown) fmt::print(out, "               ... {} more catalog ranges (--json lists all)\n", p.inputs.size() - shown);
}

std::string interval_text(double interval_s) { return std::isfinite(interval_s) ? seconds(interval_s) : "none"; }

// Failures, checkpoints, restarts and stragglers over the whole run (scenarios with "failures" enabled).
void print_whole_run(const WholeRunResult& r, std::ostream& out) {
  const auto& s = r.setup;
  const auto& m = r.runs.mean;
  fmt::print(out, "  whole run    {} / {} / {} wall-clock (p10 / p50 / p90 of {} runs, seed {}); failure-free {}\n",
             days(r.runs.p10_wall_s / kSecondsPerDay), days(r.runs.p50_wall_s / kSecondsPerDay),
             days(r.runs.p90_wall_s / kSecondsPerDay), s.draws, s.seed, days(s.work_s / kSecondsPerDay));
  fmt::print(out, "               goodput {}, {} chip-hours lost, {:.0f} failures on average (job MTBF {})\n",
             percent(r.goodput), count(r.lost_chip_hours), m.failures,
             std::isfinite(r.mtbf_s) ? seconds(r.mtbf_s) : std::string("none"));
  fmt::print(out, "               time lost per run: recomputed {}, checkpoint writes {}, restarts and loads {}, "
                  "repair waits {}, stragglers {}\n",
             seconds(m.recomputed_s), seconds(m.checkpoint_s), seconds(m.restart_s), seconds(m.repair_wait_s),
             seconds(s.work_s * (s.straggler_slowdown - 1.0)));
  fmt::print(out, "  checkpoints  {} each, written in {} and loaded in {}; restart {}, {} hot spare nodes, repair {}\n",
             bytes(s.checkpoint_bytes), seconds(s.checkpoint_write_s), seconds(s.checkpoint_load_s),
             seconds(s.restart_s), s.hot_spare_nodes, seconds(s.repair_s));
  fmt::print(out, "               every {} ({}); best interval simulated {}, Young/Daly sqrt(2 x write x MTBF) {}\n",
             interval_text(r.interval_used_s), s.checkpoint_interval_s ? "as given" : "the best found",
             interval_text(r.best_interval_s), interval_text(r.young_daly_interval_s));
  if (s.straggler_slowdown > 1.0) {
    fmt::print(out, "  stragglers   every step x{:.4f}: the slowest of {:.0f} chips sets the pace\n", s.straggler_slowdown,
               s.chips);
  }
}

void print_summary(const Scenario& s, const TrainingEstimate& e, const PredictionIntervals& p,
                   const std::optional<WholeRunResult>& whole_run, std::ostream& out) {
  const auto& c = s.job.cluster;
  const auto& b = e.breakdown;
  const auto& m = e.memory;
  const auto& ec = e.energy_cost;
  fmt::print(out, "  model        {}\n", model_text(s, e));
  if (c.stage_chips.empty()) {
    fmt::print(out, "  cluster      {} x {} in {} x {}; {} {} ({} switches, bisection {:.0f} % of injection)\n", c.chips,
               c.chip.id, c.nodes, c.node.id, c.fabric.id, to_string(c.topology), e.topology.switches,
               e.topology.bisection_ratio * 100.0);
  } else {
    // A mixed fleet: each stage group's chips and nodes.
    fmt::print(out, "  cluster      {} chips in {} nodes; {} {} ({} switches, bisection {:.0f} % of injection)\n",
               c.chips, c.nodes, c.fabric.id, to_string(c.topology), e.topology.switches,
               e.topology.bisection_ratio * 100.0);
    const int pp = s.job.plan.pp;
    std::vector<int> own;
    for (int stage = 0; stage < pp; ++stage) {
      if (c.stage_group(stage) == nullptr) own.push_back(stage);
    }
    const auto line = [&](const std::vector<int>& stages, const Chip& chip, const Node& node) {
      if (stages.empty()) return;
      const long chips = c.chips / pp * static_cast<long>(stages.size());
      fmt::print(out, "               stages {}: {} x {} in {} x {}\n", fmt::join(stages, ", "), chips, chip.id,
                 chips / node.chip_count(), node.id);
    };
    line(own, c.chip, c.node);
    for (const auto& group : c.stage_chips) line(group.stages, group.chip, group.node);
  }
  fmt::print(out, "  plan         {}\n", plan_text(s.job));
  fmt::print(out, "  step time    {}  ({} micro-batches, {} tokens per step)\n", seconds(e.step_time_s), e.micro_batches,
             count(e.tokens_per_step));
  fmt::print(out, "  throughput   {} tokens/s, {} tokens/s per chip\n", count(e.tokens_per_s),
             count(e.tokens_per_s_per_chip));
  fmt::print(out, "  utilization  MFU {}, HFU {}, {} per chip of model FLOPs (bf16 peak {})\n", percent(e.mfu),
             percent(e.hfu), flop_rate(e.model_flop_per_s_per_chip),
             flop_rate(e.mfu > 0 ? e.model_flop_per_s_per_chip / e.mfu : c.chip.peak_flop_per_s(DataType::bf16)));
  fmt::print(out, "  memory       {} of {} usable per chip (stage {}): {}, {} {}\n", bytes(m.total_bytes),
             bytes(m.usable_bytes), m.stage, m.fits ? "fits" : "DOES NOT FIT", bytes(std::fabs(m.margin_bytes)),
             m.fits ? "spare" : "short");
  fmt::print(out, "               weights {}, gradients {}, optimizer {}, {}activations {} ({:.1f} micro-batches), "
                  "reserved {}\n",
             bytes(m.weights_bytes), bytes(m.gradients_bytes), bytes(m.optimizer_bytes),
             m.gathered_weights_bytes > 0 ? fmt::format("gathered weights {}, ", bytes(m.gathered_weights_bytes)) : "",
             bytes(m.activations_bytes), m.in_flight, bytes(m.reserved_bytes));
  fmt::print(out, "  step split   compute {} (GEMM {}, attention {}, memory-bound {})\n", seconds(b.compute_s()),
             seconds(b.gemm_s), seconds(b.attention_s), seconds(b.memory_bound_s));
  fmt::print(out, "               exposed communication {} (TP {}, CP {}, EP {}, PP {}, DP {})\n",
             seconds(b.communication_s()), seconds(b.tp_s), seconds(b.cp_s), seconds(b.ep_s), seconds(b.pp_s),
             seconds(b.dp_s));
  fmt::print(out, "               pipeline bubble {}, optimizer {}, overheads {}\n", seconds(b.bubble_s),
             seconds(b.optimizer_s), seconds(b.overhead_s));
  fmt::print(out, "  training     {} tokens in {}{}, {} chip-hours\n", count(s.job.training.tokens), days(e.train_days),
             whole_run ? " (median with failures)" : "", count(e.chip_hours));
  if (whole_run) print_whole_run(*whole_run, out);
  fmt::print(out, "  energy       {} at {} facility power (PUE {:.2f})\n", energy_kwh(ec.energy_kwh),
             fmt::format("{:.2f} MW", ec.facility_power_w / 1e6), s.job.costs.pue);
  if (s.job.costs.mode == CostMode::rental) {
    // A mixed fleet's stages rent at their own prices: the mean is what a chip-hour costs.
    const double rate = e.chip_hours > 0 ? ec.cost_usd / e.chip_hours : s.job.costs.usd_per_chip_hour;
    fmt::print(out, "  cost         {} rental at ${:.2f} per chip-hour{} (electricity {} included); {} per M tokens\n",
               usd(ec.cost_usd), rate, c.stage_chips.empty() ? "" : " on average", usd(ec.electricity_usd),
               usd(ec.usd_per_mtok));
  } else {
    fmt::print(out, "  cost         {} ownership (capex {} over {:g} years, electricity {}); {} per M tokens\n",
               usd(ec.cost_usd), usd(ec.capex_usd), s.job.costs.depreciation_years, usd(ec.electricity_usd),
               usd(ec.usd_per_mtok));
  }
  print_intervals(p, out);
  for (const auto& note : e.notes) fmt::print(out, "  note         {}\n", note);
  for (const auto& used : s.defaults_used) fmt::print(out, "  default      {}\n", used);
}

std::string tier_text(Tier tier) {
  switch (tier) {
    case Tier::analytical: return "tier 1, analytical";
    case Tier::replica: return "tier 2, discrete-event, one chip per pipeline stage";
    case Tier::full: return "tier 3, discrete-event, every chip";
  }
  return "";
}

// Per-device shares of the step and the busiest links, for the discrete-event tiers.
void print_simulation(const SimResult& r, std::ostream& out) {
  if (r.tier == Tier::analytical) return;
  const double step = r.estimate.step_time_s;
  const auto pct = [step](double s) { return fmt::format("{:.1f}", step > 0 ? 100.0 * s / step : 0.0); };
  fmt::print(out, "  simulated    {}: {} activities in {:.2f} s wall\n", tier_text(r.tier), r.simulated_activities,
             r.wall_s);
  fmt::print(out, "  devices      share of the step, %: left of |, what the compute stream did or waited for;\n"
                  "               right of it, how busy each communication stream was (hidden or not)\n");
  fmt::print(out, "    {:<10} {:>7} {:>5} {:>5} {:>5} {:>5} {:>5} {:>6} {:>5} {:>5} | {:>4} {:>4} {:>4} {:>4} {:>4}\n",
             "device", "compute", "TP", "CP", "EP", "PP", "DP", "bubble", "optim", "idle", "TP", "CP", "EP", "PP",
             "DP");
  const std::size_t shown = std::min<std::size_t>(r.devices.size(), 16);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& d = r.devices[i];
    fmt::print(out, "    {:<10} {:>7} {:>5} {:>5} {:>5} {:>5} {:>5} {:>6} {:>5} {:>5} | {:>4} {:>4} {:>4} {:>4} {:>4}\n",
               d.name, pct(d.compute_s), pct(d.exposed_tp_s), pct(d.exposed_cp_s), pct(d.exposed_ep_s),
               pct(d.exposed_pp_s), pct(d.exposed_dp_s), pct(d.bubble_s), pct(d.optimizer_s), pct(d.idle_s),
               pct(d.busy_tp_s), pct(d.busy_cp_s), pct(d.busy_ep_s), pct(d.busy_pp_s), pct(d.busy_dp_s));
  }
  if (r.devices.size() > shown) fmt::print(out, "    ... {} more devices (--json lists all)\n", r.devices.size() - shown);
  fmt::print(out, "  links        busiest during the step\n");
  for (const auto& l : r.busiest_links) {
    if (l.bytes <= 0) break;
    fmt::print(out, "    {:<28} {:>5.1f} % of {}  ({} carried)\n", l.name, 100.0 * l.utilisation,
               fmt::format("{:.0f} GB/s", l.bytes_per_s / 1e9), bytes(l.bytes));
  }
}

void print_comparison(const std::vector<Scenario>& scenarios, const std::vector<TrainingEstimate>& estimates,
                      const std::vector<PredictionIntervals>& intervals, Tier tier, std::ostream& out) {
  fmt::print(out, "Comparison of {} scenarios ({})\n", scenarios.size(), tier_text(tier));
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    fmt::print(out, "  [{}] {}  ({})\n", i + 1, scenarios[i].name, scenarios[i].file);
  }
  struct Row {
    std::string label;
    std::function<std::string(const Scenario&, const TrainingEstimate&)> cell;
  };
  // The interval of the scenario whose estimate is `e` (rows see the scenario and the estimate only).
  const auto interval_of = [&](const TrainingEstimate& e) -> const PredictionIntervals& {
    return intervals[static_cast<std::size_t>(&e - estimates.data())];
  };
  const std::vector<Row> rows{
      {"model", [](const Scenario& s, const TrainingEstimate&) { return s.model_ref; }},
      {"chip",
       [](const Scenario& s, const TrainingEstimate&) {
         std::string ids = s.job.cluster.chip.id;
         for (const auto& group : s.job.cluster.stage_chips) ids += "+" + group.chip.id;
         return ids;
       }},
      {"chips", [](const Scenario& s, const TrainingEstimate&) { return fmt::format("{}", s.job.cluster.chips); }},
      {"tp/pp/dp/ep",
       [](const Scenario& s, const TrainingEstimate&) {
         const auto& p = s.job.plan;
         return fmt::format("{}/{}/{}/{}", p.tp, p.pp, p.dp, p.ep);
       }},
      {"recompute",
       [](const Scenario& s, const TrainingEstimate&) { return recompute_text(s.job.plan); }},
      {"precision", [](const Scenario& s, const TrainingEstimate&) { return std::string(to_string(s.job.training.precision)); }},
      {"step time", [](const Scenario&, const TrainingEstimate& e) { return seconds(e.step_time_s); }},
      {"tokens/s per chip", [](const Scenario&, const TrainingEstimate& e) { return count(e.tokens_per_s_per_chip); }},
      {"MFU (bf16 peak)", [](const Scenario&, const TrainingEstimate& e) { return percent(e.mfu); }},
      {"model TFLOP/s per chip",
       [](const Scenario&, const TrainingEstimate& e) { return fmt::format("{:.0f}", e.model_flop_per_s_per_chip / 1e12); }},
      {"memory per chip", [](const Scenario&, const TrainingEstimate& e) { return bytes(e.memory.total_bytes); }},
      {"fits memory", [](const Scenario&, const TrainingEstimate& e) { return std::string(e.memory.fits ? "yes" : "NO"); }},
      {"tokens", [](const Scenario& s, const TrainingEstimate&) { return count(s.job.training.tokens); }},
      {"train time", [](const Scenario&, const TrainingEstimate& e) { return days(e.train_days); }},
      {"  p10-p90",
       [&](const Scenario&, const TrainingEstimate& e) {
         return days_range(interval_of(e).train_days.p10, interval_of(e).train_days.p90);
       }},
      {"chip-hours", [](const Scenario&, const TrainingEstimate& e) { return count(e.chip_hours); }},
      {"energy", [](const Scenario&, const TrainingEstimate& e) { return energy_kwh(e.energy_cost.energy_kwh); }},
      {"cost", [](const Scenario&, const TrainingEstimate& e) { return usd(e.energy_cost.cost_usd); }},
      {"  p10-p90 ", [&](const Scenario&, const TrainingEstimate& e) { return range(interval_of(e).cost_usd, usd); }},
      {"$ per M tokens", [](const Scenario&, const TrainingEstimate& e) { return usd(e.energy_cost.usd_per_mtok); }},
  };
  std::size_t label_width = 0;
  for (const auto& row : rows) label_width = std::max(label_width, row.label.size());
  std::vector<std::vector<std::string>> cells(rows.size());
  std::vector<std::size_t> widths(scenarios.size(), 0);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t i = 0; i < scenarios.size(); ++i) {
      cells[r].push_back(rows[r].cell(scenarios[i], estimates[i]));
      widths[i] = std::max({widths[i], cells[r][i].size(), fmt::format("[{}]", i + 1).size()});
    }
  }
  // In blocks of as many scenarios as fit 100 columns beside the labels.
  constexpr std::size_t kWidth = 100;
  for (std::size_t first = 0; first < scenarios.size();) {
    std::size_t end = first + 1;
    std::size_t used = 2 + label_width + 2 + widths[first];
    while (end < scenarios.size() && used + 2 + widths[end] <= kWidth) used += 2 + widths[end++];
    fmt::print(out, "\n  {:<{}}", "", label_width);
    for (std::size_t i = first; i < end; ++i) fmt::print(out, "  {:>{}}", fmt::format("[{}]", i + 1), widths[i]);
    fmt::print(out, "\n");
    for (std::size_t r = 0; r < rows.size(); ++r) {
      fmt::print(out, "  {:<{}}", rows[r].label, label_width);
      for (std::size_t i = first; i < end; ++i) fmt::print(out, "  {:>{}}", cells[r][i], widths[i]);
      fmt::print(out, "\n");
    }
    first = end;
  }
  bool any_note = false;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    for (const auto& note : estimates[i].notes) {
      if (!any_note) fmt::print(out, "\n");
      any_note = true;
      fmt::print(out, "  note [{}] {}\n", i + 1, note);
    }
  }
}

}  // namespace

void warn_if_it_does_not_fit(const std::string& file, const MemoryReport& m) {
  if (m.fits) return;
  fmt::print(stderr,
             "flopcast: warning: {}: the plan does not fit in memory: stage {} needs {} per chip, {} usable; the times "
             "assume it did (`flopcast plan {}` searches plans that fit)\n",
             file, m.stage, human::bytes(m.total_bytes), human::bytes(m.usable_bytes), file);
}

int run_scenarios(const std::vector<std::string>& files, bool json, const RunOptions& options,
                  const Catalogs& catalogs, std::ostream& out) {
  if (!options.trace_file.empty() && (files.size() != 1 || options.tier == Tier::analytical)) {
    throw ModelError("--trace needs exactly one scenario and tier replica or full");
  }
  // Load every file first and report all problems together.
  std::vector<Scenario> scenarios;
  std::vector<Problem> problems;
  for (const auto& file : files) {
    try {
      scenarios.push_back(load_scenario(file, catalogs));
    } catch (const InputError& error) {
      problems.insert(problems.end(), error.problems().begin(), error.problems().end());
    }
  }
  throw_if_any(problems);
  if (!options.trace_file.empty()) refuse_overwriting_an_input(options.trace_file);
  SimOptions sim;
  sim.tier = options.tier;
  sim.overlap = !options.no_overlap;
  sim.record_trace = !options.trace_file.empty();
  sim.max_expected_s = options.max_minutes * 60.0;
  if (!options.quiet) {
    for (const auto& s : scenarios) {
      const double expected = expected_simulation_s(s.job, options.tier);
      if (expected > 10.0 && (sim.max_expected_s == 0 || expected <= sim.max_expected_s)) {
        fmt::print(stderr, "{}: tier {} expected to take about {}\n", s.file, to_string(options.tier),
                   human::seconds(expected));
      }
    }
  }
  const bool progress = !options.quiet && ::isatty(STDERR_FILENO) && options.tier != Tier::analytical;
  std::vector<SimResult> results;
  std::vector<TrainingEstimate> estimates;
  for (const auto& scenario : scenarios) {
    if (progress) {
      // One line per scenario on a terminal, its percentage rewritten in place as the engine reports it.
      sim.progress = [&scenario, &options](double fraction) {
        fmt::print(stderr, "\rsimulating {} ({}) ... {:3.0f} %", scenario.name, to_string(options.tier), 100 * fraction);
        std::fflush(stderr);
      };
    }
    try {
      results.push_back(simulate_scenario(scenario, catalogs, sim));
    } catch (const ModelError& error) {
      if (progress) fmt::print(stderr, "\n");
      throw InputError(scenario.file, "", error.what());
    }
    if (progress) fmt::print(stderr, "\n");
    estimates.push_back(results.back().estimate);
    warn_if_it_does_not_fit(scenario.file, estimates.back().memory);
  }
  if (!options.trace_file.empty()) {
    write_chrome_trace(results.front(), options.trace_file);
    if (!options.quiet) fmt::print(stderr, "trace of one step written to {}\n", options.trace_file);
  }
  if (json) {
    nlohmann::json out_json = nlohmann::json::array();
    for (std::size_t i = 0; i < scenarios.size(); ++i) out_json.push_back(result_to_json(scenarios[i], results[i], catalogs));
    out << (out_json.size() == 1 ? out_json[0] : out_json).dump(2) << '\n';
    return 0;
  }
  std::vector<PredictionIntervals> intervals;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    intervals.push_back(prediction_intervals(scenarios[i], estimates[i], results[i].tier, catalogs, whole_run_of(results[i])));
  }
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    if (i > 0) out << '\n';
    fmt::print(out, "{}  ({})\n", scenarios[i].name, scenarios[i].file);
    std::ostringstream summary;
    print_summary(scenarios[i], estimates[i], intervals[i], results[i].whole_run, summary);
    out << wrap_lines(summary.str(), 100, 15);  // under the labels' column
    print_simulation(results[i], out);
  }
  if (scenarios.size() > 1) {
    out << '\n';
    print_comparison(scenarios, estimates, intervals, options.tier, out);
  }
  return 0;
}

}  // namespace flopcast::cli
