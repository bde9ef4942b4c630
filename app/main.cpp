// flopcast: predicts the time, utilisation, memory, energy and cost of training LLMs on NVIDIA and Ascend clusters.

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "distributed.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/models/hf_import.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;

int report_input_error(const flopcast::InputError& error) {
  // Under mpirun every rank meets the same input; rank 0 speaks for all.
  if (flopcast::cli::rank() != 0) return kExitBadInput;
  for (const auto& problem : error.problems()) std::cerr << "flopcast: error: " << to_string(problem) << '\n';
  return kExitBadInput;
}

int report_error(const char* kind, const std::exception& error, int code) {
  if (flopcast::cli::rank() == 0) std::cerr << "flopcast: " << kind << ": " << error.what() << '\n';
  return code;
}

constexpr std::size_t kHelpWidth = 100;

// Help text within kHelpWidth columns. A command line of an example breaks at a space with a shell continuation ("\")
// so that it still pastes; other lines wrap as the CLI's tables do, under their own indent.
std::string wrap_help(const std::string& text, std::size_t width) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    std::string line = text.substr(start, end - start);
    const std::size_t indent = line.find_first_not_of(' ') == std::string::npos ? 0 : line.find_first_not_of(' ');
    if (line.compare(indent, 9, "flopcast ") == 0 && indent > 0) {
      while (line.size() > width) {
        const std::size_t cut = line.rfind(' ', width - 2);
        if (cut == std::string::npos || cut <= indent + 4) break;
        out += line.substr(0, cut) + " \\\n";
        line = std::string(indent + 4, ' ') + line.substr(cut + 1);
      }
      out += line;
    } else {
      out += flopcast::wrap_lines(line, width, indent);
    }
    if (end < text.size()) out += '\n';
    start = end + 1;
  }
  return out;
}

// CLI11's help with every description, footer and option text wrapped to kHelpWidth columns.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_description(const CLI::App* app) const override {
    return wrap_help(CLI::Formatter::make_description(app), kHelpWidth);
  }
  std::string make_footer(const CLI::App* app) const override {
    return wrap_help(CLI::Formatter::make_footer(app), kHelpWidth);
  }
  std::string make_option_desc(const CLI::Option* option) const override {
    return flopcast::wrap_lines(CLI::Formatter::make_option_desc(option), kHelpWidth - get_column_width(), 0);
  }
  std::string make_subcommand(const CLI::App* sub) const override {
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true),
                             flopcast::wrap_lines(sub->get_description(), kHelpWidth - get_column_width(), 0),
                             get_column_width());
    return out.str();
  }
};

// What a parse error was about, in the user's words: a mistyped command or option gets the name it was most likely
// meant to be. Walks the arguments down the command tree as CLI11 does; empty when nothing was mistyped, and CLI11's
// own message stands.
std::string explain_parse_error(const CLI::App& app, int argc, char** argv) {
  const CLI::App* command = &app;
  std::string path;  // the command's words, each followed by ": " where the message names one
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) == 0) {
      const std::string name = arg.substr(2, arg.find('=') - 2);
      if (name.empty() || command->get_option_no_throw("--" + name) != nullptr) continue;
      std::vector<std::string> names;
      for (const CLI::Option* option : command->get_options()) {
        for (const auto& long_name : option->get_lnames()) names.push_back("--" + long_name);
      }
      return fmt::format("{}unknown option --{}{}", path, name, flopcast::did_you_mean("--" + name, names));
    }
    if (arg.rfind('-', 0) == 0) continue;
    const auto subcommands = command->get_subcommands([](const CLI::App*) { return true; });
    if (subcommands.empty()) continue;  // a positional argument of a command without subcommands
    const auto named = std::find_if(subcommands.begin(), subcommands.end(),
                                    [&](const CLI::App* sub) { return sub->check_name(arg); });
    if (named != subcommands.end()) {
      command = *named;
      path = (path.empty() ? "" : path.substr(0, path.size() - 2) + " ") + arg + ": ";
      continue;
    }
    std::vector<std::string> names;
    for (const CLI::App* sub : subcommands) names.push_back(sub->get_name());
    return fmt::format("{}unknown command \"{}\"{}; the commands are {}", path, arg, flopcast::did_you_mean(arg, names),
                       fmt::join(names, ", "));
  }
  return {};
}

int run(int argc, char** argv) {
  CLI::App app{"flopcast " FLOPCAST_VERSION
               ": predicts training time, utilisation, memory fit, energy and cost of LLMs on NVIDIA and Huawei "
               "Ascend clusters.\n\n"
               "Examples:\n"
               "  flopcast run scenarios/shipped/deepseek-v3-h800.json\n"
               "  flopcast run scenarios/shipped/*.json            # side-by-side comparison\n"
               "  flopcast run --json scenarios/shipped/llama3-405b-h100.json\n"
               "  flopcast validate                                 # accuracy on published runs\n"
               "  flopcast claims                                   # public claims, with verdicts\n"
               "  flopcast plan scenarios/shipped/llama3-405b-h100.json   # the best parallel plans\n"
               "  flopcast compare scenarios/shipped/deepseek-v3-h800.json --chips h800-sxm,h20,ascend-910c\n"
               "  flopcast sweep scenarios/sweeps/chips-and-prices.json   # a grid of scenarios on all cores\n"
               "  flopcast serve scenarios/serving/*.json                 # serving: tokens/s, latency, $ per M tokens\n"
               "  flopcast report scenarios/shipped/*.json -o results/report   # HTML, PDF, Markdown, CSV\n"
               "  flopcast fleet scenarios/fleet/hopper-50k.json               # a fleet over a year\n"
               "  flopcast catalog chips\n"
               "  flopcast catalog show ascend-910b\n"
               "  flopcast import-hf path/to/config.json > model.json\n",
               "flopcast"};
  app.formatter(std::make_shared<HelpFormatter>());  // before the subcommands, which take their parent's
  app.set_version_flag("--version", "flopcast " FLOPCAST_VERSION);
  app.require_subcommand(1);

  std::vector<std::string> files;
  bool json = false;
  // A calibration of the user's own (flopcast calibrate --runs FILE --out CAL) instead of the shipped one.
  std::string calibration_file;
  const auto add_calibration_option = [&](CLI::App* command) {
    command->add_option("--calibration", calibration_file,
                        "Fitted values to use instead of models/data/calibration.json (written by flopcast calibrate "
                        "--runs FILE --out CAL)");
  };
  auto* run = app.add_subcommand("run", "Estimate one scenario, or compare several side by side");
  add_calibration_option(run);
  run->add_option("scenarios", files, "Scenario JSON files (see scenarios/SCHEMA.md)")->required();
  run->add_flag("--json", json, "Print JSON (one object per scenario; an array for several)");
  flopcast::cli::RunOptions run_options;
  std::string tier_name = "replica";
  run->add_option("--tier", tier_name,
                  "analytical (tier 1, closed form), replica (tier 2, one simulated chip per pipeline stage) or full "
                  "(tier 3, every chip simulated; up to 1024 chips)")
      ->check(CLI::IsMember({"analytical", "replica", "full"}))
      ->capture_default_str();
  run->add_option("--trace", run_options.trace_file,
                  "Write a Chrome/Perfetto trace of one simulated step (open in ui.perfetto.dev or chrome://tracing); "
                  "one scenario, tier replica or full");
  run->add_flag("--no-overlap", run_options.no_overlap,
                "Expose every communication (no overlap with compute; synchronous pipeline sends)");
  run->add_flag("--quiet", run_options.quiet, "No progress messages on standard error");
  run->add_option("--max-minutes", run_options.max_minutes,
                  "Tiers replica and full refuse a simulation expected to take longer than this, before it starts "
                  "(0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run->footer("Examples:\n"
              "  flopcast run scenarios/shipped/deepseek-v3-h800.json scenarios/shipped/deepseek-v3-h20.json\n"
              "  flopcast run --tier full --trace step.json my-64-chip-scenario.json");

  flopcast::cli::ValidateOptions validate_options;
  validate_options.out_dir = ".";
  auto* validate = app.add_subcommand("validate",
                                      "Predict every published run in a folder (tiers 1 and 2) and print the errors");
  add_calibration_option(validate);
  validate->add_option("dir", validate_options.dir,
                       "Folder of scenarios with a \"published\" block (default: the shipped scenarios/validation)");
  validate->add_option("--out", validate_options.out_dir, "Folder for validation.csv and validation.md")
      ->capture_default_str();
  validate->add_flag("--cv", validate_options.cross_validate,
                     "Also cross-validate: each run predicted by a calibration that did not see it (leave one out) "
                     "or saw none of its chip family (leave one family out); writes cross_validation.csv/.md");
  validate->add_flag("--quiet", validate_options.quiet, "No progress on standard error");
  validate->footer("Examples:\n  flopcast validate --out results/\n  flopcast validate --cv   # about a minute per core");

  flopcast::cli::CalibrateOptions calibrate_options;
  auto* calibrate = app.add_subcommand(
      "calibrate", "Refit kernel efficiencies, bus efficiency and overheads to the published runs (tier 1)");
  calibrate->add_option("dir", calibrate_options.dir,
                        "Folder of scenarios with a \"published\" block (default: scenarios/validation)");
  calibrate->add_option("--runs", calibrate_options.runs_file,
                        "Your own measured runs, in the format of calibration_runs.json (see the README, "
                        "\"Calibrating to your cluster\"), instead of a folder of scenarios")
      ->excludes(calibrate->get_option("dir"));
  calibrate->add_option("--out", calibrate_options.out_file,
                        "Where the fitted values go (default: models/data/calibration.json; with --runs, "
                        "calibration.json in the current folder)");
  calibrate->add_option("--report", calibrate_options.report_dir,
                        "Also validate the runs under the fitted values, in sample and cross-validated (the folds the "
                        "spread comes from), into this folder (validation.* and cross_validation.*)");
  calibrate->add_flag("--dry-run", calibrate_options.dry_run, "Fit and print, write nothing");
  calibrate->add_flag("--quiet", calibrate_options.quiet, "No progress on standard error");
  calibrate->footer("Starts from models/data/assumptions.json (the prior), so a refit reproduces the shipped file.\n"
                    "Examples:\n  flopcast calibrate --dry-run\n"
                    "  flopcast calibrate --runs my-cluster-runs.json --out my-cluster.json\n"
                    "  flopcast run --calibration my-cluster.json my-scenario.json");

  flopcast::cli::ClaimsOptions claims_options;
  std::string claims_tier = "replica";
  auto* claims = app.add_subcommand("claims", "Check claims from public debate against the model, with a verdict");
  add_calibration_option(claims);
  claims->add_option("dir", claims_options.dir, "Folder of claim files (default: the shipped scenarios/claims)");
  claims->add_option("--tier", claims_tier, "analytical, replica or full, as for run")
      ->check(CLI::IsMember({"analytical", "replica", "full"}))
      ->capture_default_str();
  claims->add_flag("--json", claims_options.json, "Print JSON");
  claims->add_flag("--quiet", claims_options.quiet, "No progress on standard error");
  claims->footer("Each verdict is computed from the prediction and its p10-p90 range (see scenarios/SCHEMA.md).\n"
                 "Example:\n  flopcast claims --tier analytical");

  flopcast::cli::SweepOptions sweep_options;
  auto* sweep = app.add_subcommand("sweep", "Run every point of a sweep (a base scenario and axes) on all cores");
  add_calibration_option(sweep);
  sweep->add_option("sweep", sweep_options.file, "Sweep JSON file (see scenarios/SCHEMA.md, \"Sweep files\")")
      ->required();
  sweep->add_option("--out", sweep_options.out, "Output prefix: writes PREFIX.csv and PREFIX.jsonl (default: the sweep "
                                                "file's name, in the current folder)");
  sweep->add_option("--jobs", sweep_options.jobs, "Worker processes (default: one per core)")->check(CLI::Range(1, 1024));
  sweep->add_flag("--resume", sweep_options.resume, "Continue a stopped sweep: keep the rows written, run the rest");
  sweep->add_flag("--force", sweep_options.force, "Start over even if the outputs exist");
  sweep->add_flag("--quiet", sweep_options.quiet, "No progress on standard error");
  sweep->footer("Rows stream to CSV and JSON Lines in point order as they finish; points that do not fit together or "
                "in memory are rows with a reason.\nExample:\n  flopcast sweep scenarios/sweeps/chips-and-prices.json "
                "--out results/chips");

  flopcast::cli::PlanOptions plan_options;
  std::string plan_tier = "replica";
  auto* plan = app.add_subcommand("plan", "Search the parallel plans for a scenario's model, cluster and batch");
  add_calibration_option(plan);
  plan->add_option("scenario", plan_options.file, "Scenario JSON file (its parallelism is compared, not kept, but for --pin and its "
                   "parallelism.pin)")
      ->required();
  plan->add_option("--top", plan_options.top_k, "How many of the best tier-1 plans to re-rank")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  plan->add_option("--tier", plan_tier, "Tier of the re-ranking: analytical (none), replica or full")
      ->check(CLI::IsMember({"analytical", "replica", "full"}))
      ->capture_default_str();
  plan->add_flag("--json", plan_options.json, "Print JSON");
  plan->add_option("--chips", plan_options.chips,
                   "Chip types to compare (comma-separated); alone: a Pareto front of cost against days over "
                   "cluster sizes from 1/8 to 8 times the scenario's")
      ->delimiter(',');
  plan->add_option("--deadline-days", plan_options.deadline_days, "Fewest chips of each type to finish within D days")
      ->check(CLI::PositiveNumber);
  plan->add_option("--tokens", plan_options.tokens, "Tokens to train (default: the scenario's)")
      ->check(CLI::PositiveNumber);
  plan->add_option("--budget-usd", plan_options.budget_usd,
                   "Most tokens this money buys on the scenario's cluster size, per chip type")
      ->check(CLI::PositiveNumber);
  plan->add_option("--max-chips", plan_options.max_chips, "Largest cluster the deadline and Pareto searches try")
      ->check(CLI::Range(1, 1 << 22))
      ->capture_default_str();
  plan->add_flag("--all", plan_options.all,
                 "Estimate every plan of the space in full (tier 1) and write them all to --csv FILE");
  plan->add_option("--csv", plan_options.csv_file, "With --all: the CSV file of every plan (written whole or not at all)");
  plan->add_option("--pin", plan_options.pin,
                   fmt::format("Dimensions kept at the scenario's values (comma-separated: {}); the rest are searched. "
                               "A scenario pins its own with \"pin\" in its parallelism: a list of these, or "
                               "\"stated\" for every one the block gives",
                               flopcast::join(flopcast::plan_dimensions(), ", ")))
      ->delimiter(',');
  plan->add_option("--precisions", plan_options.precisions,
                   "Training precisions to search, each plan at each (comma-separated: bf16, fp8, mxfp8, nvfp4; "
                   "\"all\": every one the chip runs). Default: the scenario's training.search_precisions, or its "
                   "precision alone (FP8 changes the numerics: the recipe's choice)")
      ->delimiter(',');
  plan->footer("Examples:\n  flopcast plan scenarios/shipped/deepseek-v3-h800.json --top 5\n"
               "  flopcast plan scenarios/shipped/llama3-405b-h100.json --precisions bf16,fp8\n"
               "  flopcast plan scenarios/shipped/deepseek-v3-h800.json --all --csv results/plans.csv\n"
               "  flopcast plan scenarios/shipped/llama3-405b-h100.json --pin tp,tp_comm_overlap\n"
               "  flopcast plan scenarios/claims/scenarios/llama3-70b-h100-1024.json --deadline-days 30 --tokens 15e12 "
               "--chips h100-sxm,h800-sxm,h20,ascend-910b\n"
               "  flopcast plan scenarios/claims/scenarios/llama3-70b-h100-1024.json --chips h100-sxm,h20,ascend-910b");

  flopcast::cli::CompareCommandOptions compare_options;
  std::string compare_tier = "replica";
  auto* compare = app.add_subcommand(
      "compare", "Which chip: a scenario's model and tokens on several chip types, each with the best plan that fits");
  add_calibration_option(compare);
  compare->add_option("scenario", compare_options.file, "Scenario JSON file: the model, tokens, batch and costs")
      ->required();
  compare->add_option("--chips", compare_options.chips, "Chip types to compare (comma-separated; default: the "
                                                        "scenario's)")
      ->delimiter(',');
  compare->add_option("--chip-count", compare_options.chip_count,
                      "Chips of each type, rounded up to whole nodes (default: the scenario's)")
      ->check(CLI::Range(1, 1 << 22));
  compare->add_option("--tokens", compare_options.tokens, "Tokens to train (default: the scenario's)")
      ->check(CLI::PositiveNumber);
  compare->add_option("--tier", compare_tier, "Tier of the chosen plans: analytical, replica or full")
      ->check(CLI::IsMember({"analytical", "replica", "full"}))
      ->capture_default_str();
  compare->add_flag("--keep-plan", compare_options.keep_plan,
                    "The scenario's own plan on every chip where it runs and fits (the planner's best elsewhere)");
  compare->add_flag("--json", compare_options.json, "Print JSON");
  compare->add_flag("--quiet", compare_options.quiet, "No progress on standard error");
  compare->footer("Examples:\n  flopcast compare scenarios/shipped/deepseek-v3-h800.json --chips "
                  "h800-sxm,h20,ascend-910c\n"
                  "  flopcast compare scenarios/shipped/llama3-405b-h100.json --chips h100-sxm,b200 --chip-count 8192");

  flopcast::cli::ServeOptions serve_options;
  std::string serve_tier = "replica";
  auto* serve = app.add_subcommand("serve", "Simulate a serving deployment request by request: throughput, TTFT, "
                                            "TPOT, goodput, KV cache, energy and $ per million tokens");
  serve->add_option("scenarios", serve_options.files, "Scenario JSON files with a \"serving\" section")
      ->required();
  serve->add_option("--tier", serve_tier, "analytical (steady state, tier 1) or replica (request-level simulation)")
      ->check(CLI::IsMember({"analytical", "replica"}))
      ->capture_default_str();
  serve->add_flag("--json", serve_options.json, "Print JSON");
  serve->add_flag("--search", serve_options.search,
                  "The best plan and batch size per chip type for the scenario's SLO (tier 1; first file only)");
  serve->add_option("--chips", serve_options.chips, "Chip types the search compares (comma-separated)")->delimiter(',');
  serve->add_flag("--curve", serve_options.curve,
                  "Output tokens/s per chip against tokens/s per user: the Pareto front of every plan and batch per "
                  "chip type (tier 1; first file only; with --chips)")
      ->excludes("--search");
  serve->add_flag("--validate", serve_options.validate,
                  "Each deployment's prediction against its published figure (/serving/published), then the errors "
                  "by chip, engine, model and workload")
      ->excludes("--search")
      ->excludes("--curve")
      ->excludes("--json");
  serve->add_flag("--cv", serve_options.cross_validate,
                  "With --validate: fit the per-step and per-layer overheads and the synthetic tokens' expert load to "
                  "the published figures, leaving one source out (each publication's table for one model), and the "
                  "errors' spread behind the p10-p90 ranges (48 simulations per deployment)")
      ->needs("--validate");
  serve->footer("Several files print side by side, then a comparison table.\nExamples:\n"
                "  flopcast serve scenarios/serving/deepseek-v3-h800.json\n"
                "  flopcast serve scenarios/serving/*.json\n"
                "  flopcast serve --validate scenarios/serving/validation/*.json\n"
                "  flopcast serve --validate --cv scenarios/serving/validation/*.json   # about 8 minutes\n"
                "  flopcast serve --curve scenarios/serving/deepseek-v3-h800.json --chips h800-sxm,h20,h200-sxm,ascend-910c\n"
                "  flopcast serve scenarios/serving/deepseek-v3-h800.json --search --chips "
                "h800-sxm,h20,h100-sxm,h200-sxm,ascend-910c");
  flopcast::cli::ReportCommandOptions report_options;
  std::string report_tier = "replica";
  auto* report = app.add_subcommand(
      "report", "Write a cost comparison report (HTML, PDF, Markdown, CSV, with charts) of scenarios and sweeps");
  add_calibration_option(report);
  report->add_option("inputs", report_options.files, "Scenario or sweep JSON files (or none, with --claims)");
  report->add_option("-o,--out", report_options.out_dir,
                     "Folder for report.html, report.pdf, report.md, report.csv and charts/*.svg")
      ->required();
  report->add_option("--tier", report_tier, "Tier of the scenarios: analytical, replica or full (sweeps: analytical)")
      ->check(CLI::IsMember({"analytical", "replica", "full"}))
      ->capture_default_str();
  report->add_option("--claims", report_options.claims_dir, "Also check the claim files of this folder");
  report->add_option("--fleet", report_options.fleet_file, "A fleet file: the fleet's report (tables, busy chips and "
                                                            "power over time) instead of scenarios");
  report->add_option("--price-swing", report_options.price_swing,
                     "Sensitivity: a price the scenario gives itself moves by this fraction either way")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str();
  report->add_option("--chips", report_options.chips,
                     "A chip comparison of the one scenario given, the answer first (as flopcast compare)")
      ->delimiter(',');
  report->add_option("--chip-count", report_options.chip_count,
                     "Chips of each type in the comparison, rounded up to whole nodes (default: the scenario's)")
      ->check(CLI::Range(1, 1 << 22));
  report->add_option("--title", report_options.title, "The report's title");
  report->add_flag("--quiet", report_options.quiet, "No progress on standard error");
  report->footer("The HTML needs no network (charts are inline SVG). Files are replaced only once all are ready.\n"
                 "Examples:\n  flopcast report scenarios/shipped/deepseek-v3-*.json -o results/export-control\n"
                 "  flopcast report scenarios/shipped/deepseek-v3-h800.json --chips h800-sxm,h20,ascend-910c "
                 "-o results/which-chip\n"
                 "  flopcast report scenarios/sweeps/chips-and-prices.json -o results/chips\n"
                 "  flopcast report --claims scenarios/claims -o results/claims");

  flopcast::cli::FleetCommandOptions fleet_options;
  auto* fleet = app.add_subcommand("fleet", "Simulate a fleet of chip pools at power-limited sites running a portfolio "
                                            "of training runs and serving demand over a horizon");
  fleet->add_option("fleet", fleet_options.file, "Fleet JSON file (see scenarios/SCHEMA.md, \"Fleet files\")")
      ->required();
  fleet->add_flag("--json", fleet_options.json, "Print JSON");
  fleet->add_option("--out", fleet_options.out_file, "Also write the JSON result to this file (atomically)");
  fleet->add_option("--match", fleet_options.match_file,
                    "A reference fleet: find the fewest chips of --pool that deliver its model FLOP in the horizon");
  fleet->add_option("--pool", fleet_options.match_pool, "The pool --match sizes");
  fleet->add_option("--max-chips", fleet_options.max_chips, "Largest pool --match tries")->capture_default_str();
  fleet->footer("Examples:\n  flopcast fleet scenarios/fleet/hopper-50k.json\n"
                "  flopcast fleet scenarios/fleet/ascend-910c-match.json --match scenarios/fleet/hopper-50k.json "
                "--pool cloudmatrix");

  auto* catalog = app.add_subcommand("catalog", "List or show chips, models, nodes and fabrics, with sources");
  catalog->require_subcommand(1);
  auto* chips = catalog->add_subcommand("chips", "Chips with peak FLOP/s, memory, links, TPP and export status");
  chips->add_flag("--json", json, "Print JSON");
  auto* models = catalog->add_subcommand("models", "Models with parameter counts");
  models->add_flag("--json", json, "Print JSON");
  std::string show_id;
  auto* show = catalog->add_subcommand("show", "Every figure of one chip, model, node or fabric, with its source");
  show->add_option("id", show_id, "A chip, model, node or fabric id")->required();
  show->add_flag("--json", json, "Print JSON (chips and models)");

  std::string hf_file;
  std::string hf_name;
  auto* import_hf = app.add_subcommand("import-hf", "Convert a Hugging Face config.json into a scenario's model object");
  import_hf->add_option("config", hf_file, "config.json of a Llama, Qwen2/3, Qwen3-MoE, Mixtral or DeepSeek-V2/V3 model")
      ->required();
  import_hf->add_option("--name", hf_name, "Display name (default: the file's name)");
  import_hf->footer("Example: flopcast import-hf config.json > model.json, then \"model\": {...} in a scenario");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (flopcast::cli::rank() != 0) return error.get_exit_code() == 0 ? kExitOk : kExitBadInput;
    if (error.get_exit_code() == 0) {  // --help, --version
      app.exit(error);
      return kExitOk;
    }
    const std::string explained = explain_parse_error(app, argc, argv);
    std::cerr << "flopcast: error: " << (explained.empty() ? std::string(error.what()) : explained) << '\n'
              << "Run with --help for more information.\n";
    return kExitBadInput;
  }

  // Under mpirun sweeps and plan searches share their work; any other command runs once, on rank 0.
  if (flopcast::cli::ranks() > 1 && !*sweep && !*plan && flopcast::cli::rank() != 0) return kExitOk;
  try {
    if (*import_hf) {
      auto model = flopcast::import_hf_config_file(hf_file);
      if (!hf_name.empty()) model.name = hf_name;
      std::cout << flopcast::model_to_json(model).dump(2) << '\n';
      return kExitOk;
    }
    auto catalogs = flopcast::load_catalogs();
    if (!calibration_file.empty()) {
      catalogs.assumptions = flopcast::load_assumptions(flopcast::data_root(), /*calibrated=*/true, calibration_file);
    }
    run_options.tier = flopcast::parse_tier(tier_name).value_or(flopcast::Tier::replica);
    if (*run) return flopcast::cli::run_scenarios(files, json, run_options, catalogs, std::cout);
    if (*claims) {
      claims_options.tier = flopcast::parse_tier(claims_tier).value_or(flopcast::Tier::replica);
      return flopcast::cli::check_claims(claims_options, catalogs, std::cout);
    }
    if (*plan) {
      plan_options.tier = flopcast::parse_tier(plan_tier).value_or(flopcast::Tier::replica);
      return flopcast::cli::plan_scenario(plan_options, catalogs, std::cout);
    }
    if (*compare) {
      compare_options.tier = flopcast::parse_tier(compare_tier).value_or(flopcast::Tier::replica);
      return flopcast::cli::compare_command(compare_options, catalogs, std::cout);
    }
    if (*serve) {
      serve_options.tier = flopcast::parse_tier(serve_tier).value_or(flopcast::Tier::replica);
      return flopcast::cli::serve_scenarios(serve_options, catalogs, std::cout);
    }
    if (*report) {
      if (report_options.files.empty() && report_options.claims_dir.empty() && report_options.fleet_file.empty()) {
        std::cerr << "flopcast: error: report: give scenario or sweep files, or --claims DIR\n";
        return kExitBadInput;
      }
      report_options.tier = flopcast::parse_tier(report_tier).value_or(flopcast::Tier::replica);
      return flopcast::cli::write_report(report_options, catalogs, std::cout);
    }
    if (*fleet) return flopcast::cli::run_fleet(fleet_options, catalogs, std::cout);
    if (*sweep) return flopcast::cli::run_sweep(sweep_options, catalogs, std::cout);
    if (*calibrate) return flopcast::cli::calibrate_runs(calibrate_options, catalogs, std::cout);
    if (*validate) return flopcast::cli::validate_runs(validate_options, catalogs, std::cout);
    if (*chips) return flopcast::cli::catalog_chips(json, catalogs, std::cout);
    if (*models) return flopcast::cli::catalog_models(json, catalogs, std::cout);
    if (*show) return flopcast::cli::catalog_show(show_id, json, catalogs, std::cout);
  } catch (const flopcast::InputError& error) {
    return report_input_error(error);
  } catch (const flopcast::ModelError& error) {
    return report_error("error", error, kExitBadInput);
  } catch (const flopcast::IoError& error) {
    return report_error("error", error, kExitBadInput);
  } catch (const std::exception& error) {
    return report_error("internal error", error, kExitInternal);
  }
  return kExitOk;
}

// Standard output is written through a buffer: a full disk, a closed pipe's EPIPE or /dev/full shows only when the
// buffer is flushed. Every command's output goes through here once it is done, so that a failed write is an error
// (exit 1, with the reason) and never a silent exit 0 with a truncated result.
int finish_standard_output(int code) {
  std::cout.flush();
  errno = 0;
  const bool flush_failed = std::fflush(stdout) != 0;
  const int failure = errno;
  const bool failed = flush_failed || std::cout.fail() || std::ferror(stdout) != 0;
  if (!failed) return code;
  // The reason is known when the last flush failed; an earlier failed write leaves only the stream's error flag.
  std::fprintf(stderr, "flopcast: error: writing standard output failed%s%s; the output is incomplete\n",
               failure != 0 ? ": " : " (a full disk, a file-size limit or a device that refuses data)",
               failure != 0 ? std::strerror(failure) : "");
  return code == kExitOk ? kExitInternal : code;
}

}  // namespace

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write should fail with EFBIG and be reported, not kill the process. A closed
  // pipe (flopcast run ... | head) still ends it by SIGPIPE, as the reader asked.
  std::signal(SIGXFSZ, SIG_IGN);
  const flopcast::cli::Ranks ranks(argc, argv);
  // No command writes over a file it read (flopcast run --trace s.json s.json).
  flopcast::guard_inputs_against_outputs();
  return finish_standard_output(run(argc, argv));
}
