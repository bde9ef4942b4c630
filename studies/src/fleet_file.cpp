// The fleet file (SCHEMA.md, "Fleet files"): sites, pools and the portfolio of jobs, parsed once into a FleetSpec.
// Every problem in the file (and in the scenarios it names) is collected before failing.

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/studies/fleet.hpp"

namespace flopcast {

namespace fs = std::filesystem;

namespace {

constexpr NumberBounds kPositive{.min = 0, .max = 1e30, .min_exclusive = true};
constexpr NumberBounds kNonNegative{.min = 0, .max = 1e30};
// At most 1,000 repeats of one entry: a portfolio of a few hundred jobs is the target (issue 12's bench: 200).
constexpr std::int64_t kMaxRepeat = 1000;
// At most 10,000 jobs in all, repeats counted: each holds its resolved scenario, and the fleet simulation's events
// grow with them (100,000 jobs took 2.5 GB; 1,000 entries of 1,000 repeats would take 20 GB).
constexpr std::size_t kMaxFleetJobs = 10000;

bool valid_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const int year = std::stoi(s.substr(0, 4));
  const int month = std::stoi(s.substr(5, 2));
  const int day = std::stoi(s.substr(8, 2));
  if (month < 1 || month > 12 || day < 1) return false;
  // Days in the month, February's by the Gregorian leap-year rule (2024-02-29 is a date, 2025-02-29 is not).
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days[] = {31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return day <= days[month - 1];
}

class FleetParser {
 public:
  FleetParser(const nlohmann::json& json, std::string file, fs::path base_dir, const Catalogs& catalogs)
      : json_(json), file_(std::move(file)), base_dir_(std::move(base_dir)), catalogs_(catalogs) {}

  FleetSpec parse() {
    JsonReader root(json_, file_, "", problems_);
    spec_.file = file_;
    if (!root.is_object()) {
      root.problem_here(fmt::format("expected a fleet object, got {}", describe_json(json_)));
      throw_if_any(problems_);
    }
    spec_.name = root.string("name", Need::optional).value_or(fs::path(file_).stem().string());
    spec_.description = root.string("description", Need::optional).value_or("");
    spec_.horizon_s =
        root.number("horizon_days", Need::optional, {.min = 0, .max = 36525, .min_exclusive = true}).value_or(365.0) *
        kSecondsPerDay;
    if (auto date = root.string("start_date", Need::optional)) {
      if (valid_date(*date)) {
        spec_.start_date = *date;
      } else {
        root.problem("start_date", fmt::format("expected a calendar date \"YYYY-MM-DD\", got \"{}\"", *date));
      }
    }
    spec_.seed = static_cast<std::uint64_t>(root.integer("seed", Need::optional, {.min = 0}).value_or(1));
    spec_.electricity_usd_per_kwh =
        root.number("electricity_usd_per_kwh", Need::optional, kNonNegative).value_or(spec_.electricity_usd_per_kwh);
    root.string("source", Need::optional);
    spec_.question = root.string("question", Need::optional).value_or("");
    if (auto sites = root.objects("sites", Need::required)) {
      if (sites->empty()) root.problem("sites", "expected at least one site");
      for (auto& site : *sites) read_site(site);
    }
    if (auto pools = root.objects("pools", Need::required)) {
      if (pools->empty()) root.problem("pools", "expected at least one pool");
      for (auto& pool : *pools) read_pool(pool);
    }
    if (auto jobs = root.objects("training", Need::optional)) {
      for (auto& job : *jobs) read_job(job, FleetJobKind::training);
    }
    if (auto jobs = root.objects("serving", Need::optional)) {
      for (auto& job : *jobs) read_job(job, FleetJobKind::serving);
    }
    root.finish();
    throw_if_any(problems_);
    spec_.resolved = resolved();
    return std::move(spec_);
  }

 private:
  void read_site(JsonReader& r) {
    FleetSite site;
    site.id = r.string("id", Need::required).value_or("");
    if (site_index_.contains(site.id)) r.problem("id", fmt::format("site \"{}\" is defined twice", site.id));
    site.power_capacity_w = r.number("power_mw", Need::required, kPositive).value_or(1) * 1e6;
    site.pue = r.number("pue", Need::optional, {.min = 1, .max = 5}).value_or(site.pue);
    r.string("source", Need::optional);
    r.finish();
    site_index_[site.id] = spec_.sites.size();
    spec_.sites.push_back(site);
  }

  void read_pool(JsonReader& r) {
    FleetPool pool;
    pool.id = r.string("id", Need::required).value_or("");
    if (pool_index_.contains(pool.id)) r.problem("id", fmt::format("pool \"{}\" is defined twice", pool.id));
    bool ok = true;
    if (auto site = r.string("site", Need::required)) {
      auto it = site_index_.find(*site);
      if (it == site_index_.end()) {
        r.problem("site", fmt::format("unknown site \"{}\"{}", *site, did_you_mean(*site, keys(site_index_))));
        ok = false;
      } else {
        pool.site = it->second;
      }
    } else {
      ok = false;
    }
    if (auto id = r.string("chip", Need::required)) {
      const Chip* chip = catalogs_.hardware.find_chip(*id);
      if (chip == nullptr) {
        r.problem("chip", fmt::format("unknown chip \"{}\"{}", *id, did_you_mean(*id, catalogs_.hardware.chip_ids())));
        ok = false;
      } else {
        pool.chip = *chip;
        const Node* node = catalogs_.hardware.find_node(chip->default_node);
        if (node == nullptr) {
          r.problem("chip", fmt::format("{} has no default node in the catalog", chip->id));
          ok = false;
        } else {
          pool.node = *node;
        }
      }
    } else {
      ok = false;
    }
    if (auto node = r.string("node", Need::optional); node && ok && *node != pool.node.id) {
      r.problem("node", fmt::format("expected \"{}\" (the planner sizes jobs on the chip's default node), got \"{}\"",
                                    pool.node.id, *node));
    }
    if (auto network = r.object("network", Need::optional)) {
      pool.network_given = true;
      if (auto id = network->string("fabric", Need::optional)) {
        if (const Fabric* fabric = catalogs_.hardware.find_fabric(*id)) {
          pool.fabric = *fabric;
        } else {
          network->problem("fabric", fmt::format("unknown fabric \"{}\"{}", *id,
                                                 did_you_mean(*id, catalogs_.hardware.fabric_ids())));
        }
      } else if (ok) {
        pool.fabric = default_fabric(pool.node);
      }
      if (auto name = network->choice("topology", Need::optional, topology_names())) {
        pool.topology = parse_topology(*name);
      }
      network->finish();
    } else if (ok) {
      pool.fabric = default_fabric(pool.node);
    }
    const auto* raw_chips = r.raw("chips", Need::required);
    if (raw_chips != nullptr && ok) {
      const int node_chips = pool.node.chip_count();
      if (raw_chips->is_string() && raw_chips->get<std::string>() == "fill") {
        const auto& site = spec_.sites[pool.site];
        const double per_node = node_facility_power_w(pool.chip, pool.node, site.pue, catalogs_.assumptions);
        const long nodes = static_cast<long>(std::floor(site.power_capacity_w / per_node));
        if (nodes < 1) {
          r.problem("chips", fmt::format("\"fill\": one {} node draws {:.3f} MW, more than site \"{}\" has",
                                         pool.node.id, per_node / 1e6, site.id));
        }
        if (!filled_sites_.insert(pool.site).second) {
          r.problem("chips", fmt::format("\"fill\": site \"{}\" is already filled by another pool", site.id));
        }
        pool.chips = static_cast<int>(nodes * node_chips);
      } else if (raw_chips->is_number_integer() && raw_chips->get<std::int64_t>() >= 1 &&
                 raw_chips->get<std::int64_t>() <= 10'000'000) {
        const auto chips = raw_chips->get<std::int64_t>();
        if (chips % node_chips != 0) {
          r.problem("chips",
                    fmt::format("expected whole {} nodes (a multiple of {}), got {}", pool.node.id, node_chips, chips));
        }
        pool.chips = static_cast<int>(chips);
      } else {
        r.problem("chips", fmt::format("expected an integer >= 1 or \"fill\", got {}", describe_json(*raw_chips)));
      }
    }
    if (auto price = r.number("usd_per_chip_hour", Need::optional, kNonNegative)) {
      pool.usd_per_chip_hour = *price;
    } else if (ok && !r.has("usd_per_chip_hour")) {
      if (pool.chip.rental_price) {
        pool.usd_per_chip_hour = pool.chip.rental_price->value;
      } else {
        r.problem("usd_per_chip_hour",
                  fmt::format("is required: the catalog has no rental price for {}", pool.chip.id));
      }
    }
    r.string("source", Need::optional);
    r.finish();
    pool_index_[pool.id] = spec_.pools.size();
    spec_.pools.push_back(pool);
  }

  Fabric default_fabric(const Node& node) const {
    const Fabric* fabric = catalogs_.hardware.find_fabric(node.default_fabric);
    return fabric != nullptr ? *fabric : Fabric{};
  }

  static std::vector<std::string> keys(const std::map<std::string, std::size_t>& index) {
    std::vector<std::string> out;
    for (const auto& [k, v] : index) out.push_back(k);
    return out;
  }

  // The scenario a job names, parsed once per file.
  const Scenario* scenario(JsonReader& r) {
    auto ref = r.string("scenario", Need::required);
    if (!ref) return nullptr;
    const fs::path path = base_dir_ / *ref;
    if (failed_.contains(path.string())) return nullptr;  // reported once
    auto it = scenarios_.find(path.string());
    if (it == scenarios_.end()) {
      try {
        it = scenarios_.emplace(path.string(), load_scenario(path, catalogs_)).first;
      } catch (const InputError& error) {
        append_referenced(problems_, error.problems(), file_, r.path_of("scenario"));
        failed_.insert(path.string());
        return nullptr;
      } catch (const ModelError& error) {
        r.problem("scenario", fmt::format("{}: {}", path.string(), error.what()));
        failed_.insert(path.string());
        return nullptr;
      }
    }
    return &it->second;
  }

  void read_job(JsonReader& r, FleetJobKind kind) {
    FleetJob job;
    job.kind = kind;
    const bool training = kind == FleetJobKind::training;
    job.name = r.string("name", Need::required).value_or("");
    const Scenario* s = scenario(r);
    if (s != nullptr) {
      job.scenario_ref = r.node().at("scenario").get<std::string>();
      if (training && s->serving) r.problem("scenario", "expected a training scenario, got a serving deployment");
      if (!training && !s->serving) r.problem("scenario", "expected a serving deployment (a \"serving\" section)");
      job.mixed = !s->job.cluster.stage_chips.empty();
      if (job.mixed && !training) {
        r.problem("scenario", "is a mixed fleet (cluster.stage_chips): a serving job runs on one pool, one chip type");
      }
      job.scenario = *s;
    }
    if (training) {
      job.tokens = r.number("tokens", Need::optional, kPositive).value_or(s ? s->job.training.tokens : 0);
      if (auto d = r.number("deadline_days", Need::optional, kPositive)) job.deadline_s = *d * kSecondsPerDay;
      if (auto c = r.integer("chips", Need::optional, {.min = 1, .max = 10'000'000})) job.chips = static_cast<int>(*c);
      static const std::vector<std::string> plans{"search", "scenario"};
      job.scenario_plan = r.choice("plan", Need::optional, plans).value_or("search") == "scenario";
      if (job.scenario_plan && job.chips)
        r.problem("chips", "must be left out with \"plan\": \"scenario\" (its chips are the scenario's)");
      if (job.mixed && !job.scenario_plan) {
        r.problem("plan", "a mixed-fleet scenario (cluster.stage_chips) runs with \"plan\": \"scenario\": the planner "
                          "searches one chip type");
      }
    } else {
      job.tokens = r.number("tokens_per_day", Need::required, kPositive).value_or(0);
      if (auto d = r.number("duration_days", Need::optional, kPositive)) job.duration_s = *d * kSecondsPerDay;
    }
    job.arrival_s = r.number("arrival_days", Need::optional, kNonNegative).value_or(0) * kSecondsPerDay;
    job.priority = static_cast<int>(r.integer("priority", Need::optional, {.min = -1000, .max = 1000}).value_or(0));
    if (auto names = r.strings("pools", Need::optional)) {
      for (std::size_t i = 0; i < names->size(); ++i) {
        const auto& name = (*names)[i];
        auto it = pool_index_.find(name);
        if (it == pool_index_.end()) {
          r.problem_at("pools", i, fmt::format("unknown pool \"{}\"{}", name, did_you_mean(name, keys(pool_index_))));
        } else {
          job.pools.push_back(it->second);
        }
      }
      if (names->empty()) r.problem("pools", "expected at least one pool id (or leave it out: every pool)");
    } else {
      for (std::size_t p = 0; p < spec_.pools.size(); ++p) job.pools.push_back(p);
    }
    if (job.scenario_plan && s != nullptr) {
      // The chips (in their nodes) the scenario runs on: one type, or a mixed fleet's each.
      std::vector<std::pair<std::string, std::string>> runs_on{{s->job.cluster.chip.id, s->job.cluster.node.id}};
      for (const auto& group : s->job.cluster.stage_chips) runs_on.emplace_back(group.chip.id, group.node.id);
      for (std::size_t p : job.pools) {
        const std::pair<std::string, std::string> holds{spec_.pools[p].chip.id, spec_.pools[p].node.id};
        if (std::find(runs_on.begin(), runs_on.end(), holds) == runs_on.end()) {
          r.problem("plan", fmt::format("\"scenario\" runs on {} in {} nodes; pool \"{}\" holds {} in {} nodes",
                                        s->job.cluster.chip.id, s->job.cluster.node.id, spec_.pools[p].id,
                                        spec_.pools[p].chip.id, spec_.pools[p].node.id));
        }
      }
    }
    int count = 1;
    double every_s = 0;
    if (auto repeat = r.object("repeat", Need::optional)) {
      count = static_cast<int>(repeat->integer("count", Need::required, {.min = 1, .max = kMaxRepeat}).value_or(1));
      every_s = repeat->number("every_days", Need::optional, kNonNegative).value_or(0) * kSecondsPerDay;
      repeat->finish();
    }
    r.string("source", Need::optional);
    r.string("note", Need::optional);
    r.finish();
    if (spec_.jobs.size() + static_cast<std::size_t>(count) > kMaxFleetJobs) {
      if (!too_many_jobs_) {  // said once, at the entry that crosses the limit
        r.problem_here(fmt::format("brings the fleet to {} jobs (repeats counted); at most {} in one fleet file",
                                   spec_.jobs.size() + static_cast<std::size_t>(count), kMaxFleetJobs));
      }
      too_many_jobs_ = true;
      return;
    }
    for (int i = 0; i < count; ++i) {
      FleetJob copy = job;
      if (count > 1) copy.name = fmt::format("{} #{}", job.name, i + 1);
      copy.arrival_s = job.arrival_s + i * every_s;
      if (job.deadline_s) copy.deadline_s = *job.deadline_s + i * every_s;
      spec_.jobs.push_back(std::move(copy));
    }
  }

  nlohmann::json resolved() const {
    nlohmann::json out = {{"name", spec_.name},
                          {"horizon_days", spec_.horizon_s / kSecondsPerDay},
                          {"seed", spec_.seed},
                          {"electricity_usd_per_kwh", spec_.electricity_usd_per_kwh},
                          {"sites", nlohmann::json::array()},
                          {"pools", nlohmann::json::array()},
                          {"jobs", nlohmann::json::array()}};
    if (spec_.start_date) out["start_date"] = *spec_.start_date;
    for (const auto& s : spec_.sites) {
      out["sites"].push_back({{"id", s.id}, {"power_mw", s.power_capacity_w / 1e6}, {"pue", s.pue}});
    }
    for (const auto& p : spec_.pools) {
      out["pools"].push_back({{"id", p.id},
                              {"site", spec_.sites[p.site].id},
                              {"chip", p.chip.id},
                              {"node", p.node.id},
                              {"chips", p.chips},
                              {"network", {{"fabric", p.fabric.id},
                                           {"topology", p.topology ? std::string(to_string(*p.topology)) : "auto"}}},
                              {"usd_per_chip_hour", p.usd_per_chip_hour}});
    }
    for (const auto& j : spec_.jobs) {
      nlohmann::json pools = nlohmann::json::array();
      for (std::size_t p : j.pools) pools.push_back(spec_.pools[p].id);
      nlohmann::json o = {{"name", j.name},
                          {"kind", j.kind == FleetJobKind::training ? "training" : "serving"},
                          {"scenario", j.scenario_ref},
                          {j.kind == FleetJobKind::training ? "tokens" : "tokens_per_day", j.tokens},
                          {"arrival_days", j.arrival_s / kSecondsPerDay},
                          {"priority", j.priority},
                          {"pools", pools}};
      if (j.deadline_s) o["deadline_days"] = *j.deadline_s / kSecondsPerDay;
      if (j.chips) o["chips"] = *j.chips;
      if (j.kind == FleetJobKind::training) o["plan"] = j.scenario_plan ? "scenario" : "search";
      if (j.duration_s) o["duration_days"] = *j.duration_s / kSecondsPerDay;
      out["jobs"].push_back(o);
    }
    return out;
  }

  const nlohmann::json& json_;
  std::string file_;
  fs::path base_dir_;
  const Catalogs& catalogs_;
  std::vector<Problem> problems_;
  FleetSpec spec_;
  std::map<std::string, std::size_t> site_index_;
  std::map<std::string, std::size_t> pool_index_;
  std::set<std::size_t> filled_sites_;
  std::map<std::string, Scenario> scenarios_;
  bool too_many_jobs_ = false;  // the job limit was reported
  std::set<std::string> failed_;
};

}  // namespace

double node_facility_power_w(const Chip& chip, const Node& node, double pue, const Assumptions& assumptions) {
  // The same terms as models/energy_cost.cpp, for one node: chips at the power fraction of TDP, plus the host.
  return pue * (node.chip_count() * chip.tdp.value * assumptions.chip_power_fraction_of_tdp + node.host_power.value);
}

FleetSpec parse_fleet(const nlohmann::json& json, const std::string& file_label, const fs::path& base_dir,
                      const Catalogs& catalogs) {
  return FleetParser(json, file_label, base_dir, catalogs).parse();
}

FleetSpec load_fleet(const fs::path& file, const Catalogs& catalogs) {
  const auto json = read_json_file(file);
  return parse_fleet(json, file.string(), file.parent_path(), catalogs);
}

}  // namespace flopcast
