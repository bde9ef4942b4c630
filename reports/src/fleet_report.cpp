// The fleet report (fleet_report.hpp): tables with every number and its unit, and step charts over the horizon.

#include "flopcast/reports/fleet_report.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "cells.hpp"
#include "flopcast/core/human_units.hpp"

namespace flopcast::report {

namespace {

Cell mw(double v) {
  return number_cell(fmt::format("{:.2f} MW", v), v, "MW");
}
Cell mwh(double v) {
  return number_cell(human::energy_kwh(v * 1000.0), v, "MWh");
}
Cell usd(double v) {
  return number_cell(human::usd(v), v, "USD");
}
Cell flop(double v) {
  return number_cell(fmt::format("{:.3g}", v), v, "FLOP");
}
Cell days(double v) {
  return number_cell(fmt::format("{:.1f}", v), v, "days");
}

}  // namespace

ChartSeries step_series(const std::string& name, const std::vector<FleetPoint>& points, double scale) {
  ChartSeries s{.name = name, .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i > 0) {  // the previous value up to this time, then the jump
      s.x.push_back(points[i].t_days);
      s.y.push_back(points[i - 1].value * scale);
    }
    s.x.push_back(points[i].t_days);
    s.y.push_back(points[i].value * scale);
  }
  return s;
}

Document build_fleet_document(const FleetResult& r, const std::string& question, const std::string& description) {
  Document doc;
  doc.title = r.name;
  doc.subtitle = fmt::format("Fleet over {:g} days{} (flopcast fleet, seed {}; {})", r.horizon_days,
                             r.start_date ? " from " + *r.start_date : "", r.seed, r.file);
  Section summary{.title = "Summary", .blocks = {}};
  if (!question.empty()) summary.blocks.push_back(Paragraph{"Question: " + question});
  if (!description.empty()) summary.blocks.push_back(Paragraph{description});
  summary.blocks.push_back(Paragraph{fmt::format(
      "Within the horizon the fleet delivers {:.3g} model FLOP ({:.3g} FLOP/s-years) and finishes {} training runs, "
      "using {} of energy. Holding every chip for the horizon costs {}; the chip-hours jobs used cost {}.",
      r.flop, r.flop_per_s_years, r.jobs_finished, human::energy_kwh(r.energy_mwh * 1000.0),
      human::usd(r.held_cost_usd), human::usd(r.job_cost_usd))});
  Table totals{.caption = "Totals within the horizon", .header = {"quantity", "value"}, .rows = {}};
  totals.rows.push_back({text_cell("model FLOP"), flop(r.flop)});
  totals.rows.push_back({text_cell("FLOP/s-years"),
                         number_cell(fmt::format("{:.3g}", r.flop_per_s_years), r.flop_per_s_years, "FLOP/s-years")});
  totals.rows.push_back(
      {text_cell("training runs finished"), number_cell(fmt::format("{}", r.jobs_finished), r.jobs_finished, "runs")});
  totals.rows.push_back({text_cell("energy"), mwh(r.energy_mwh)});
  totals.rows.push_back({text_cell("electricity"), usd(r.electricity_usd)});
  totals.rows.push_back({text_cell("fleet held"), usd(r.held_cost_usd)});
  totals.rows.push_back({text_cell("jobs' chip-hours"), usd(r.job_cost_usd)});
  summary.blocks.push_back(std::move(totals));

  Table sites{.caption = "Sites: power drawn against capacity",
              .header = {"site", "capacity", "peak drawn", "energy"},
              .rows = {}};
  for (const auto& s : r.sites)
    sites.rows.push_back({text_cell(s.id), mw(s.capacity_mw), mw(s.peak_mw), mwh(s.energy_mwh)});
  summary.blocks.push_back(std::move(sites));
  Table pools{.caption = "Pools",
              .header = {"pool", "site", "chip", "chips", "utilisation", "model FLOP", "energy", "held cost"},
              .rows = {}};
  for (const auto& p : r.pools) {
    pools.rows.push_back({text_cell(p.id), text_cell(p.site), text_cell(p.chip),
                          number_cell(fmt::format("{}", p.chips), p.chips, "chips"),
                          number_cell(human::percent(p.utilisation), p.utilisation, "fraction"), flop(p.flop),
                          mwh(p.energy_mwh), usd(p.held_cost_usd)});
  }
  summary.blocks.push_back(std::move(pools));
  doc.sections.push_back(std::move(summary));

  Section timeline{.title = "Over time", .blocks = {}};
  // The jobs as a Gantt chart: rows in pool order, then by start; the first kMaxRows that start within the horizon.
  constexpr std::size_t kMaxRows = 60;
  ChartSpec gantt{.id = "fleet-jobs",
                  .title = "Jobs per pool over time",
                  .kind = ChartKind::timeline,
                  .x_title = "time (days)",
                  .y_title = "job",
                  .x_unit = "days",
                  .y_unit = "days",
                  .categories = {},
                  .series = {},
                  .log_x = false,
                  .log_y = false,
                  .caption = "",
                  .height_px = 0};
  std::size_t started = 0;
  for (const auto& p : r.pools) {
    ChartSeries series{.name = p.id, .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
    std::vector<const FleetJobResult*> jobs;
    for (const auto& j : r.jobs) {
      if (j.pool == p.id && j.status != FleetJobStatus::unscheduled && j.start_days < r.horizon_days)
        jobs.push_back(&j);
    }
    std::stable_sort(jobs.begin(), jobs.end(),
                     [](const FleetJobResult* a, const FleetJobResult* b) { return a->start_days < b->start_days; });
    started += jobs.size();
    for (const auto* j : jobs) {
      if (gantt.categories.size() == kMaxRows) break;
      series.x.push_back(static_cast<double>(gantt.categories.size()));
      series.y.push_back(j->finish_days - j->start_days);
      series.low.push_back(j->start_days);
      series.high.push_back(j->finish_days);
      gantt.categories.push_back(j->name);
    }
    if (!series.x.empty()) gantt.series.push_back(std::move(series));
  }
  gantt.caption = fmt::format(
      "Each bar is a job from its start to its finish (past the horizon when it runs on), coloured by pool{}.",
      started > kMaxRows ? fmt::format("; the first {} of the {} jobs that start within the horizon", kMaxRows, started)
                         : "");
  timeline.blocks.push_back(std::move(gantt));
  ChartSpec busy{.id = "fleet-busy-chips",
                 .title = "Busy chips per pool",
                 .kind = ChartKind::lines,
                 .x_title = "time (days)",
                 .y_title = "busy chips",
                 .x_unit = "days",
                 .y_unit = "chips",
                 .categories = {},
                 .series = {},
                 .log_x = false,
                 .log_y = false,
                 .caption =
                     "Chips held by running jobs in each pool (whole nodes), from the event simulation; each "
                     "step is a job starting or finishing.",
                 .height_px = 420};
  for (const auto& p : r.pools) busy.series.push_back(step_series(p.id, p.busy_chips));
  timeline.blocks.push_back(std::move(busy));
  ChartSpec power{.id = "fleet-power",
                  .title = "Power drawn against site capacity",
                  .kind = ChartKind::lines,
                  .x_title = "time (days)",
                  .y_title = "facility power (MW)",
                  .x_unit = "days",
                  .y_unit = "MW",
                  .categories = {},
                  .series = {},
                  .log_x = false,
                  .log_y = false,
                  .caption =
                      "Facility power of the running jobs at each site (PUE included), and the site's capacity "
                      "as a flat line; a job starts only if it fits under the line.",
                  .height_px = 420};
  for (const auto& s : r.sites) {
    power.series.push_back(step_series(s.id + " drawn", s.power_mw));
    power.series.push_back(ChartSeries{.name = s.id + " capacity",
                                       .x = {0.0, r.horizon_days},
                                       .y = {s.capacity_mw, s.capacity_mw},
                                       .low = {},
                                       .high = {},
                                       .colour = {}});
  }
  timeline.blocks.push_back(std::move(power));
  doc.sections.push_back(std::move(timeline));

  Section jobs{.title = "Jobs", .blocks = {}};
  Table table{.caption = "Each job: where and when it ran (days from the start), what it drew and delivered",
              .header = {"job", "pool", "chips", "start", "finish", "status", "power", "model FLOP", "plan"},
              .rows = {}};
  for (const auto& j : r.jobs) {
    if (j.status == FleetJobStatus::unscheduled) {
      table.rows.push_back({text_cell(j.name), text_cell("-"), text_cell("-"), text_cell("-"), text_cell("-"),
                            text_cell("unscheduled: " + j.reason), text_cell("-"), text_cell("-"), text_cell("-")});
      continue;
    }
    std::string status(to_string(j.status));
    if (j.deadline_met) status += *j.deadline_met ? ", deadline met" : ", deadline missed";
    table.rows.push_back({text_cell(j.name), text_cell(j.pool),
                          number_cell(fmt::format("{}", j.chips), j.chips, "chips"), days(j.start_days),
                          days(j.finish_days), text_cell(status), mw(j.power_mw), flop(j.flop), text_cell(j.plan)});
  }
  jobs.blocks.push_back(std::move(table));
  doc.sections.push_back(std::move(jobs));
  return doc;
}

}  // namespace flopcast::report
