// flopcast validate: the published runs of scenarios/validation/, predicted at tiers 1 and 2, with the errors.

#include <algorithm>
#include <cmath>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/studies/calibration.hpp"
#include "flopcast/studies/validation.hpp"
#include "format.hpp"

namespace flopcast::cli {

namespace {

std::string value_text(PublishedMetric metric, double v) {
  switch (metric) {
    case PublishedMetric::step_time_s: return fmt::format("{:.2f} s", v);
    case PublishedMetric::tokens_per_s_per_chip: return fmt::format("{:.0f} tok/s", v);
    case PublishedMetric::model_tflops_per_chip:
    case PublishedMetric::hardware_tflops_per_chip: return fmt::format("{:.0f} TFLOP/s", v);
    case PublishedMetric::mfu:
    case PublishedMetric::hfu: return fmt::format("{:.1f} %", 100.0 * v);
  }
  return fmt::format("{:g}", v);
}

// Short enough for a 100-column table; the value's unit says the rest.
std::string metric_label(PublishedMetric metric) {
  switch (metric) {
    case PublishedMetric::step_time_s: return "step time";
    case PublishedMetric::tokens_per_s_per_chip: return "per chip";
    case PublishedMetric::model_tflops_per_chip: return "model";
    case PublishedMetric::hardware_tflops_per_chip: return "hardware";
    case PublishedMetric::mfu: return "MFU";
    case PublishedMetric::hfu: return "HFU";
  }
  return "?";
}

// A table row that starts with a run's name: the name in its column, or, when longer, on a line of its own with the
// row's cells below it, so that the table keeps to 100 columns.
void print_run_row(std::ostream& out, const std::string& run, std::size_t width, const std::string& cells) {
  if (run.size() <= width) {
    fmt::print(out, "  {:<{}} {}\n", run, width, cells);
  } else {
    fmt::print(out, "  {}\n  {:<{}} {}\n", run, "", width, cells);
  }
}

void print_summaries(const std::vector<ErrorSummary>& summaries, std::ostream& out) {
  fmt::print(out, "\n  {:<25} {:>6} {:>14} {:>6} {:>14} {:>6} {:>6} {:>14}\n", "|error|, %", "runs", "tier 1 median",
             "max", "tier 2 median", "p90", "max", "inside p10-p90");
  for (const auto& s : summaries) {
    fmt::print(out, "  {:<25} {:>6} {:>14.1f} {:>6.1f} {:>14.1f} {:>6.1f} {:>6.1f} {:>14}\n", s.group, s.runs,
               s.median_abs_pct[0], s.max_abs_pct[0], s.median_abs_pct[1], s.p90_abs_pct[1], s.max_abs_pct[1],
               coverage_text(s.coverage[1]));
  }
}

// Refits without each run (and without each chip family) from the prior and predicts what was left out.
void print_cross_validation(const std::vector<Scenario>& scenarios, const ValidationReport& report,
                            const ValidateOptions& options, std::ostream& out) {
  const auto prior = load_assumptions(data_root(), /*calibrated=*/false);
  const bool progress = !options.quiet && ::isatty(STDERR_FILENO);
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto cv = cross_validate(scenarios, prior, threads, [&](int done, int folds) {
    if (progress) fmt::print(stderr, "\rcross-validation: {}/{} calibrations", done, folds);
  });
  if (progress) fmt::print(stderr, "\r{:60}\r", "");
  fmt::print(out, "\nCross-validation: each run predicted by a calibration fitted without it (leave one out), "
                  "without its source (leave one source out) and without its chip family (leave one family out)\n\n");
  constexpr std::size_t kRunWidth = 39;
  print_run_row(out, "run", kRunWidth,
                fmt::format("{:<10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}", "family", "LOO t1", "LOO t2", "LOSO t1",
                            "LOSO t2", "LOFO t1", "LOFO t2"));
  const auto cell = [](const std::vector<double>& errors, std::size_t i) {
    return i < errors.size() ? fmt::format("{:+.1f}%", errors[i]) : std::string("-");
  };
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    print_run_row(out, report.rows[i].run, kRunWidth,
                  fmt::format("{:<10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}", report.rows[i].family,
                              cell(cv.loo_error_pct[0], i), cell(cv.loo_error_pct[1], i),
                              cell(cv.loso_error_pct[0], i), cell(cv.loso_error_pct[1], i),
                              cell(cv.lofo_error_pct[0], i), cell(cv.lofo_error_pct[1], i)));
  }
  const std::array<std::pair<Holdout, const char*>, 3> holdouts{
      {{Holdout::run, "leave one out"},
       {Holdout::source, "leave one source out (a publication's runs out at once)"},
       {Holdout::family, "leave one family out (the family's kernels transferred from another)"}}};
  for (const auto& [holdout, title] : holdouts) {
    if (cv.error_pct(holdout)[0].empty()) continue;
    fmt::print(out, "\n  {}", title);
    print_summaries(cross_validation_summaries(report.rows, cv, holdout), out);
  }
  fmt::print(out, "\n  inside p10-p90: the published value within the model's p10-p90 interval around the held-out "
                  "prediction (the shipped spread; catalog input ranges, which widen some intervals, not included)\n");
  if (!options.out_dir.empty()) {
    const std::filesystem::path folder(options.out_dir);
    StagedFiles files;
    files.add(folder / "cross_validation.csv", cross_validation_csv(report.rows, cv));
    files.add(folder / "cross_validation.md", cross_validation_markdown(report.rows, cv));
    files.commit();
    fmt::print(out, "\n  written: {}, {}\n", (folder / "cross_validation.csv").string(),
               (folder / "cross_validation.md").string());
  }
}

}  // namespace

std::filesystem::path default_validation_dir() { return data_root() / "scenarios" / "validation"; }

int validate_runs(const ValidateOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto dir = options.dir.empty() ? default_validation_dir() : std::filesystem::path(options.dir);
  if (!options.out_dir.empty()) check_output_folder(options.out_dir);  // before minutes of simulation
  std::vector<Problem> unreadable;
  const auto scenarios = load_validation_scenarios(dir, catalogs, &unreadable);
  const bool progress = !options.quiet && ::isatty(STDERR_FILENO);
  const auto report = validate(scenarios, catalogs.assumptions, [&](int i, int n, const std::string& run) {
    if (progress) fmt::print(stderr, "\r[{}/{}] {:<48}", i + 1, n, run);
  });
  if (progress) fmt::print(stderr, "\r{:60}\r", "");

  fmt::print(out, "Validation against {} published training runs ({})\n\n", report.rows.size(), dir.string());
  // The tier-1 prediction as its error only (validation.csv has both predictions); marks after the run's name; which
  // way tier 2 errs in words, since the error's sign follows the metric.
  constexpr std::size_t kRunWidth = 35;
  const auto row = [](const std::string& metric, const std::string& published, const std::string& tier1_error,
                      const std::string& tier2, const std::string& tier2_error, std::string_view reads) {
    std::string text = fmt::format("{:<9} {:>12} {:>7} {:>12} {:>7}  {}", metric, published, tier1_error, tier2,
                                   tier2_error, reads);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  };
  fmt::print(out, "  {:<{}} {:<9} {:>12} {:>7} {:>12} {:>7}  {}\n", "", kRunWidth, "", "", "tier 1", "tier 2", "tier 2",
             "tier 2 is");
  print_run_row(out, "run", kRunWidth, row("metric", "published", "error", "predicted", "error", ""));
  for (const auto& r : report.rows) {
    const std::string marks = std::string(r.assumed.empty() ? "" : " *") + (r.fitted ? "" : " ^") +
                              (r.fits_memory ? "" : " !");
    print_run_row(out, r.run + marks, kRunWidth,
                  row(metric_label(r.metric), value_text(r.metric, r.published), fmt::format("{:+.1f}%", r.error_pct[0]),
                      value_text(r.metric, r.predicted[1]), fmt::format("{:+.1f}%", r.error_pct[1]),
                      speed_reading(r.metric, r.error_pct[1])));
  }
  print_summaries(report.summaries, out);
  const auto not_fitting = std::count_if(report.rows.begin(), report.rows.end(),
                                         [](const ValidationRow& r) { return !r.fits_memory; });
  fmt::print(out, "\n  memory: {} of {} runs predicted not to fit, although every one of them ran: errors of the\n"
                  "  memory model\n",
             not_fitting, report.rows.size());
  // One answer: the two tiers' p10-p90 ranges overlap on every run, or the output names the runs where they do not.
  std::vector<const ValidationRow*> disagree;
  double widest = 0;
  for (const auto& r : report.rows) {
    if (!tiers_agree(r)) disagree.push_back(&r);
    widest = std::max(widest, std::fabs(std::log(r.predicted[1] / r.predicted[0])));
  }
  fmt::print(out, "\n  tiers: the tier-1 and tier-2 p10-p90 ranges overlap on {} of {} runs\n"
                  "  (the widest gap between the two predictions: {:.1f} %)\n",
             report.rows.size() - disagree.size(), report.rows.size(), 100.0 * std::expm1(widest));
  for (const auto* r : disagree) {
    fmt::print(out, "    {}: tier 2 / tier 1 = {:.3f}, ranges +-{:.1f} % and +-{:.1f} %\n", r->run,
               r->predicted[1] / r->predicted[0], 100.0 * std::expm1(kNormalZ90 * r->log_sigma[0]),
               100.0 * std::expm1(kNormalZ90 * r->log_sigma[1]));
  }
  const auto memory = memory_check(report);
  if (!memory.rows.empty()) {
    fmt::print(out, "\n  memory per chip against {} published peaks: median |error| {:.1f} %, max {:.1f} %\n",
               memory.rows.size(), memory.median_abs_pct, memory.max_abs_pct);
    constexpr std::size_t kRunWidth = 60;
    print_run_row(out, "run", kRunWidth, fmt::format("{:>10} {:>10} {:>8}", "published", "flopcast", "error"));
    for (const auto* r : memory.rows) {
      print_run_row(out, r->run, kRunWidth,
                    fmt::format("{:>6.1f} GiB {:>6.1f} GiB {:>+7.1f}%", r->published_memory_gib, r->memory_gib,
                                memory_error_pct(*r)));
    }
  }
  fmt::print(out, "\n  * the publication left something out that the scenario assumes (its published.assumed list)\n"
                  "  ^ validate_only: left out of the calibration's fit\n"
                  "  ! predicted not to fit in memory, although it ran\n");
  fmt::print(out, "  metric: step time, tokens/s per chip, model or hardware TFLOP/s per chip, MFU, HFU\n"
                  "  error = (predicted - published) / published; tier 1 analytical, tier 2 discrete-event;\n"
                  "  tier 2 is: which way tier 2 errs whatever the metric (a step time too high is too slow)\n");

  if (!options.out_dir.empty()) {
    const std::filesystem::path folder(options.out_dir);
    create_output_folder(folder);
    StagedFiles files;
    files.add(folder / "validation.csv", validation_csv(report));
    files.add(folder / "validation.md", validation_markdown(report));
    files.commit();
    fmt::print(out, "\n  written: {}, {}\n", (folder / "validation.csv").string(), (folder / "validation.md").string());
  }
  if (options.cross_validate) print_cross_validation(scenarios, report, options, out);
  if (!unreadable.empty()) {
    // The others were validated and written; the exit status still says that the folder had bad files.
    fmt::print(stderr, "flopcast: error: files of {} that could not be validated (left out above):\n", dir.string());
    for (const auto& problem : unreadable) fmt::print(stderr, "  {}\n", to_string(problem));
    return 2;
  }
  return 0;
}

namespace {

// A folder of its own under the system's temporary folder, removed with everything in it when it goes out of scope.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    path_ = std::filesystem::temp_directory_path() / fmt::format("flopcast-calibrate-{}", ::getpid());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Scenarios for the runs of a calibration_runs.json-format file, written into `folder` by the same fixed rules as the
// shipped validation set (tools/make_validation_scenarios.py); its report (what was written, what was skipped and
// why) is returned.
std::string build_run_scenarios(const std::filesystem::path& runs_file, const std::filesystem::path& folder) {
  if (!std::filesystem::is_regular_file(runs_file)) {
    throw IoError(fmt::format("{}: no such file (runs to calibrate on, in calibration_runs.json's format; see the "
                              "README, \"Calibrating to your cluster\")", runs_file.string()));
  }
  const auto script = data_root() / "tools" / "make_validation_scenarios.py";
  const auto log = folder / "builder.log";
  const auto scenarios = folder / "scenarios";
  std::vector<std::string> args{"python3", script.string(), "--runs", runs_file.string(), "--out", scenarios.string(),
                                "--fit-every-run"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "python3", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    throw IoError("calibrate --runs builds its scenarios with python3, which was not found (apt-get install python3)");
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw IoError(fmt::format("{}: the runs could not be turned into scenarios:\n{}", runs_file.string(), text.str()));
  }
  return text.str();
}

}  // namespace

int calibrate_runs(const CalibrateOptions& options, const Catalogs& catalogs, std::ostream& out) {
  // The outputs' folders, checked before minutes of fitting.
  if (!options.dry_run) {
    const std::filesystem::path out_file(options.out_file.empty() ? "calibration.json" : options.out_file);
    if (!options.out_file.empty() || !options.runs_file.empty()) {
      check_output_folder(out_file.has_parent_path() ? out_file.parent_path() : std::filesystem::path("."));
    }
    if (!options.report_dir.empty()) check_output_folder(options.report_dir);
  }
  std::optional<TemporaryFolder> built;
  std::filesystem::path dir = options.dir.empty() ? default_validation_dir() : std::filesystem::path(options.dir);
  if (!options.runs_file.empty()) {
    built.emplace();
    const auto report = build_run_scenarios(options.runs_file, built->path());
    fmt::print(out, "Runs of {}: {}", options.runs_file, report);
    dir = built->path() / "scenarios";
  }
  const auto scenarios = load_validation_scenarios(dir, catalogs);
  const auto prior = load_assumptions(data_root(), /*calibrated=*/false);
  const bool progress = !options.quiet && ::isatty(STDERR_FILENO);
  const auto result = calibrate(scenarios, prior, [&](int iteration, double rms_log) {
    if (progress) fmt::print(stderr, "\riteration {:>2}: rms log error {:.4f}", iteration, rms_log);
  });
  if (progress) fmt::print(stderr, "\r{:60}\r", "");

  const auto validate_only = scenarios.size() - result.runs.size();
  fmt::print(out, "Calibration on {} published runs ({}){}, tier 1, {} iterations\n\n", result.runs.size(),
             options.runs_file.empty() ? dir.string() : options.runs_file,
             validate_only == 0 ? std::string()
                                : fmt::format("; {} more validated, not fitted (published.validate_only)", validate_only),
             result.iterations);
  fmt::print(out, "  {:<40} {:>12} {:>12} {:>25}\n", "parameter", "prior", "fitted", "bounds");
  for (const auto& p : result.parameters) {
    const auto text = [&](double v) {
      return p.unit == "s" ? seconds(v) : p.unit == "fraction" ? fmt::format("{:.3f}", v) : fmt::format("{:.1f}", v);
    };
    fmt::print(out, "  {:<40} {:>12} {:>12} {:>25}{}\n", p.name, text(p.prior), text(p.value),
               fmt::format("[{}, {}]", text(p.low), text(p.high)), p.at_bound() ? "  at a bound" : "");
  }
  if (!options.runs_file.empty()) {
    fmt::print(out, "\n  {:<50} {:>14} {:>14}\n", "run", "error before", "error after");
    for (std::size_t i = 0; i < result.runs.size(); ++i) {
      fmt::print(out, "  {:<50} {:>12.1f} % {:>12.1f} %\n", result.runs[i], result.error_before_pct[i],
                 result.error_after_pct[i]);
    }
  }
  const auto before = result.before();
  const auto after = result.after();
  fmt::print(out, "\n  tier-1 |error| on these runs: median {:.1f} % -> {:.1f} %, max {:.1f} % -> {:.1f} %\n",
             before.median_abs_pct, after.median_abs_pct, before.max_abs_pct, after.max_abs_pct);
  if (options.dry_run) {
    fmt::print(out, "  (dry run: nothing written)\n");
    return 0;
  }
  // The prediction spread comes from cross-validation: each fold a refit without some runs.
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto cv = cross_validate(scenarios, prior, threads, [&](int done, int folds) {
    if (progress) fmt::print(stderr, "\rcross-validation for the prediction spread: {}/{} calibrations", done, folds);
  });
  if (progress) fmt::print(stderr, "\r{:70}\r", "");
  const auto file = !options.out_file.empty()     ? std::filesystem::path(options.out_file)
                    : !options.runs_file.empty() ? std::filesystem::path("calibration.json")
                                                 : data_root() / "models" / "data" / "calibration.json";
  const auto json = !options.runs_file.empty() ? calibration_to_json(result, &cv, &prior, options.runs_file)
                    : !options.dir.empty()       ? calibration_to_json(result, &cv, &prior, "the scenarios of " + options.dir)
                                                 : calibration_to_json(result, &cv, &prior);
  // The spread each prediction interval will draw on (log sigma: p10-p90 is within 1.28 sigma of the prediction).
  const auto& u = json["uncertainty"];
  fmt::print(out, "  prediction spread, log sigma (tier 1 / tiers 2-3), cross-validated: calibrated families {:.3f} / "
                  "{:.3f}, other families {:.3f} / {:.3f}\n",
             u["analytical"]["calibrated_log_sigma"].get<double>(), u["discrete_event"]["calibrated_log_sigma"].get<double>(),
             u["analytical"]["uncalibrated_log_sigma"].get<double>(),
             u["discrete_event"]["uncalibrated_log_sigma"].get<double>());
  for (const auto& [slice, sigma] : u["discrete_event"]["by_class"].items()) {
    fmt::print(out, "    {:<20} {:.3f} / {:.3f}\n", slice, u["analytical"]["by_class"].value(slice, 0.0),
               sigma.get<double>());
  }
  release_input(file);  // replacing the calibration the catalogs were loaded with is the point
  write_file_atomic(file, json.dump(2) + "\n");
  if (options.runs_file.empty() && options.out_file.empty()) {
    fmt::print(out, "  written: {} (flopcast run and validate use it from now on)\n", file.string());
  } else {
    fmt::print(out, "  written: {} (use it with flopcast run --calibration {} ...)\n", file.string(), file.string());
  }
  if (!options.report_dir.empty()) {
    // The runs under the values just written, in sample and cross-validated (the folds above), with the new spread.
    const auto fitted = load_assumptions(data_root(), /*calibrated=*/true, file);
    const auto report = validate(scenarios, fitted);
    const std::array<std::pair<const char*, std::vector<ErrorSummary>>, 4> tables{{
        {"in sample", report.summaries},
        {"leave one out", cross_validation_summaries(report.rows, cv, Holdout::run)},
        {"leave one source out", cross_validation_summaries(report.rows, cv, Holdout::source)},
        {"leave one family out", cross_validation_summaries(report.rows, cv, Holdout::family)},
    }};
    for (const auto& [title, summaries] : tables) {
      if (summaries.empty()) continue;
      fmt::print(out, "\n  {}, the fitted values", title);
      print_summaries(summaries, out);
    }
    const std::filesystem::path folder(options.report_dir);
    create_output_folder(folder);
    StagedFiles files;
    files.add(folder / "validation.csv", validation_csv(report));
    files.add(folder / "validation.md", validation_markdown(report));
    files.add(folder / "cross_validation.csv", cross_validation_csv(report.rows, cv));
    files.add(folder / "cross_validation.md", cross_validation_markdown(report.rows, cv));
    files.commit();
    fmt::print(out, "\n  written: validation.csv, validation.md, cross_validation.csv, cross_validation.md in {}\n",
               folder.string());
  }
  return 0;
}

}  // namespace flopcast::cli
