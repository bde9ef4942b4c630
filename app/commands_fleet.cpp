// flopcast fleet: a fleet of chip pools at power-limited sites running a portfolio of jobs over a horizon.

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/studies/fleet.hpp"
#include "format.hpp"

namespace flopcast::cli {

namespace {

std::string mw(double v) {
  return fmt::format("{:.2f} MW", v);
}
std::string mwh(double v) {
  return energy_kwh(v * 1000.0);
}
std::string flop(double v) {
  return fmt::format("{:.3g} FLOP", v);
}

// A job's start or finish: its date where the fleet has a start date (the day numbers are in --json), else its day.
std::string when(const FleetResult& r, double d) {
  if (!r.start_date) return fmt::format("day {:.1f}", d);
  return date_after(*r.start_date, d);
}

// The width of a column: its widest cell (`get` of each of `rows`) or its header, at most `most`.
template <typename Range, typename Get>
std::size_t column_width(const Range& rows, Get get, std::string_view header, std::size_t most) {
  std::size_t width = header.size();
  for (const auto& row : rows) width = std::max(width, std::string(get(row)).size());
  return std::min(width, most);
}

// A row of at most 100 columns: where the last cell runs past, the rest goes on the next lines, indented.
void print_row(std::ostream& out, const std::string& cells, const std::string& last) {
  fmt::print(out, "{}\n", wrap_lines(cells + "  " + last, 100, 6));
}

void print_result(const FleetResult& r, std::ostream& out) {
  fmt::print(out, "{}\n", wrap_lines(fmt::format("Fleet: {}  ({})", r.name, r.file), 100, 2));
  fmt::print(out, "  horizon      {:g} days{}, seed {}; {} jobs, {} events\n", r.horizon_days,
             r.start_date ? " from " + *r.start_date : "", r.seed, r.jobs.size(), r.events);
  fmt::print(out, "  timing       jobs sized at tier 1 in {:.2f} s, simulated in {:.4f} s\n", r.sizing_wall_s,
             r.simulation_wall_s);
  fmt::print(out, "\n  {:<22} {:>12} {:>12} {:>12}\n", "site", "capacity", "peak drawn", "energy");
  for (const auto& s : r.sites) {
    fmt::print(out, "  {:<22} {:>12} {:>12} {:>12}\n", s.id, mw(s.capacity_mw), mw(s.peak_mw), mwh(s.energy_mwh));
  }
  const auto pool_w = column_width(r.pools, [](const auto& p) { return p.id; }, "pool", 20);
  const auto site_w = column_width(r.pools, [](const auto& p) { return p.site; }, "site", 16);
  const auto chip_w = column_width(r.pools, [](const auto& p) { return p.chip; }, "chip", 16);
  fmt::print(out, "\n  {:<{}} {:<{}} {:<{}} {:>6} {:>11} {:>10} {:>10} {:>10}\n", "pool", pool_w, "site", site_w, "chip",
             chip_w, "chips", "utilisation", "model FLOP", "energy", "held cost");
  for (const auto& p : r.pools) {
    fmt::print(out, "  {:<{}} {:<{}} {:<{}} {:>6} {:>11} {:>10} {:>10} {:>10}\n", p.id, pool_w, p.site, site_w, p.chip,
               chip_w, p.chips, percent(p.utilisation), fmt::format("{:.3g}", p.flop), mwh(p.energy_mwh),
               usd(p.held_cost_usd));
  }
  const auto job_w = column_width(r.jobs, [](const auto& j) { return j.name; }, "job", 36);
  const auto job_pool_w = column_width(r.jobs, [](const auto& j) { return j.pool; }, "pool", 20);
  const std::size_t when_w = r.start_date ? 10 : 9;
  const auto cells = [&](const std::string& name, const std::string& pool, const std::string& chips,
                         const std::string& start, const std::string& finish) {
    return fmt::format("  {:<{}} {:<{}} {:>5} {:>{}} {:>{}}", name, job_w, pool, job_pool_w, chips, start, when_w,
                       finish, when_w);
  };
  fmt::print(out, "\n");
  print_row(out, cells("job", "pool", "chips", "start", "finish"), "status");
  // Long portfolios: the first kMaxJobLines jobs, then a count (every job is in --json).
  constexpr std::size_t kMaxJobLines = 60;
  for (std::size_t k = 0; k < r.jobs.size(); ++k) {
    const auto& j = r.jobs[k];
    if (k == kMaxJobLines) {
      fmt::print(out, "  ... and {} more jobs (all of them in --json)\n", r.jobs.size() - k);
      break;
    }
    if (j.status == FleetJobStatus::unscheduled) {
      print_row(out, fmt::format("  {:<{}}", j.name, job_w), "unscheduled: " + j.reason);
      continue;
    }
    std::string status(to_string(j.status));
    if (j.deadline_met)
      status += *j.deadline_met ? ", deadline met" : fmt::format(", deadline (day {:.1f}) missed", *j.deadline_days);
    print_row(out, cells(j.name, j.pool, std::to_string(j.chips), when(r, j.start_days), when(r, j.finish_days)),
              status);
  }
  fmt::print(out, "\n{}\n",
             wrap_lines(fmt::format("  delivered    {:.3g} model FLOP within the horizon = {:.3g} FLOP/s-years; {} "
                                    "training runs finished",
                                    r.flop, r.flop_per_s_years, r.jobs_finished),
                        100, 15));
  fmt::print(out, "  energy       {} (electricity {})\n", mwh(r.energy_mwh), usd(r.electricity_usd));
  fmt::print(out, "  cost         {} for the fleet held over the horizon; {} for the chip-hours jobs used\n",
             usd(r.held_cost_usd), usd(r.job_cost_usd));
}

}  // namespace

int run_fleet(const FleetCommandOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto spec = load_fleet(options.file, catalogs);
  if (!options.out_file.empty()) refuse_overwriting_an_input(options.out_file);
  nlohmann::json json;
  if (!options.match_file.empty()) {
    if (options.match_pool.empty()) throw InputError("--pool", "", "is required with --match");
    const auto reference_spec = load_fleet(options.match_file, catalogs);
    const auto reference = simulate_fleet(reference_spec, catalogs);
    const auto match = match_fleet(spec, options.match_pool, reference.flop, options.max_chips, catalogs);
    {
      json = {{"reference", fleet_result_to_json(reference)},
              {"pool", options.match_pool},
              {"chips", match.chips},
              {"simulations", match.simulations},
              {"result", fleet_result_to_json(match.result)}};
    }
    if (!options.json) {
      fmt::print(out, "Matching {} ({}): {} (model FLOP) in {:g} days\n", reference.name, options.match_file,
                 flop(reference.flop), reference.horizon_days);
      double peak = 0;
      for (const auto& s : match.result.sites) peak += s.peak_mw;
      fmt::print(out,
                 "  pool \"{}\" needs {} chips (whole nodes, bisected in {} simulations): {} delivered, peak {} "
                 "(reference peak {})\n",
                 options.match_pool, match.chips, match.simulations, flop(match.result.flop), mw(peak), mw([&] {
                   double p = 0;
                   for (const auto& s : reference.sites) p += s.peak_mw;
                   return p;
                 }()));
      fmt::print(out,
                 "  (the site's power is no limit in the search: the capacity below is the search's, the peak is what "
                 "it takes)\n\n");
      print_result(match.result, out);
    }
  } else {
    const auto result = simulate_fleet(spec, catalogs);
    json = fleet_result_to_json(result);
    json["resolved_fleet"] = spec.resolved;
    if (!options.json) print_result(result, out);
  }
  if (options.json) out << json.dump(2) << '\n';
  if (!options.out_file.empty()) {
    write_file_atomic(options.out_file, json.dump(2) + "\n");
    if (!options.json) fmt::print(out, "\nwrote {}\n", options.out_file);
  }
  return 0;
}

}  // namespace flopcast::cli
