#include "flopcast/models/assumptions.hpp"

#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>

#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"

namespace flopcast {
namespace fs = std::filesystem;

const KernelEfficiency& Assumptions::kernel(const std::string& family) const {
  const auto it = kernels.find(family);
  if (it != kernels.end()) return it->second;
  static const KernelEfficiency kDefault;
  return kDefault;
}

std::string spread_class(const std::string& family, bool moe) { return family + (moe ? "/moe" : "/dense"); }

std::string Assumptions::spread_slice(std::size_t tier, const std::string& family, bool moe) const {
  const auto& by_class = prediction_spread.at(tier).by_class;
  if (const auto both = spread_class(family, moe); by_class.count(both) != 0) return both;
  return by_class.count(family) != 0 ? family : std::string();
}

double Assumptions::model_log_sigma(std::size_t tier, const std::string& family, bool moe) const {
  const auto& spread = prediction_spread.at(tier);
  if (const auto slice = spread_slice(tier, family, moe); !slice.empty()) return spread.by_class.at(slice);
  const bool calibrated =
      std::find(calibrated_families.begin(), calibrated_families.end(), family) != calibrated_families.end();
  return calibrated ? spread.calibrated_log_sigma : spread.uncalibrated_log_sigma;
}

double* Assumptions::field(std::string_view name) {
  const auto dot = name.find('.');
  if (dot == std::string_view::npos) return nullptr;
  const auto section = name.substr(0, dot);
  const auto rest = name.substr(dot + 1);
  if (section == "kernels") {
    const auto second = rest.find('.');
    if (second == std::string_view::npos) return nullptr;
    const auto it = kernels.find(std::string(rest.substr(0, second)));
    if (it == kernels.end()) return nullptr;
    auto& k = it->second;
    const auto key = rest.substr(second + 1);
    if (key == "gemm_bf16") return &k.gemm_bf16;
    if (key == "gemm_fp8") return &k.gemm_fp8;
    if (key == "gemm_fp4") return &k.gemm_fp4;
    if (key == "gemm_half_dim") return &k.gemm_half_dim;
    if (key == "grouped_gemm") return &k.grouped_gemm;
    if (key == "attention_forward") return &k.attention_forward;
    if (key == "attention_backward") return &k.attention_backward;
    if (key == "attention_half_seq") return &k.attention_half_seq;
    if (key == "attention_half_head_dim") return &k.attention_half_head_dim;
    if (key == "flash2_fraction") return &k.flash2_fraction;
    if (key == "memory_bound") return &k.memory_bound;
    if (key == "grouped_weight_read") return &k.grouped_weight_read;
    if (key == "weight_read") return &k.weight_read;
    if (key == "kv_read") return &k.kv_read;
    if (key == "all_to_all_sm_fraction") return &k.all_to_all_sm_fraction;
    if (key == "all_to_all_efficiency") return &k.all_to_all_efficiency;
    return nullptr;
  }
  if (section == "collectives") {
    if (rest == "bus_efficiency_switch") return &bus_efficiency_switch;
    if (rest == "bus_efficiency_mesh") return &bus_efficiency_mesh;
    if (rest == "bus_efficiency_supernode") return &bus_efficiency_supernode;
    if (rest == "bus_efficiency_scaleout") return &bus_efficiency_scaleout;
    if (rest == "all_to_all_efficiency_scaleout") return &all_to_all_efficiency_scaleout;
    if (rest == "tree_bandwidth_fraction") return &tree_bandwidth_fraction;
    if (rest == "tp_overlap_hidden_fraction") return &tp_overlap_hidden_fraction;
    if (rest == "ep_overlap_hidden_fraction") return &ep_overlap_hidden_fraction;
    return nullptr;
  }
  if (section == "overheads") {
    if (rest == "per_step") return &per_step_overhead_s;
    if (rest == "per_layer") return &per_layer_overhead_s;
    if (rest == "per_moe_layer") return &per_moe_layer_overhead_s;
  }
  return nullptr;
}

namespace {

// Sets the assumption `name` to `value` and records where it came from in its provenance, keeping the prior as a note.
void replace_value(Assumptions& a, const std::string& name, double value, const std::string& source) {
  *a.field(name) = value;
  for (auto& [key, quantity] : a.provenance) {
    if (key != name) continue;
    quantity.note = fmt::format("prior {:.6g} (SI units)", quantity.value);
    quantity.value = value;
    quantity.source = source;
    quantity.estimate.clear();
  }
}

// Fitted values over the prior: {"parameters": {name: {"value", "unit", "prior", "low", "high"}}, "provenance": {...}}.
void apply_calibration(Assumptions& a, const fs::path& file, const std::string& shown) {
  const Assumptions prior = a;
  const auto json = read_json_file(file);
  std::vector<Problem> problems;
  JsonReader top(json, file.string(), "", problems);
  top.allow("provenance");
  if (auto u = top.object("uncertainty", Need::optional)) {
    // {"calibrated_families": [...], "analytical"|"discrete_event": {"calibrated_log_sigma", "uncalibrated_log_sigma",
    //  "by_class": {"hopper/dense": sigma, ...}}}
    constexpr NumberBounds kSigma{.min = 0, .max = 2, .min_exclusive = true};
    a.calibrated_families = u->strings("calibrated_families", Need::required).value_or(std::vector<std::string>{});
    const std::array<const char*, 2> tiers{"analytical", "discrete_event"};
    for (std::size_t t = 0; t < tiers.size(); ++t) {
      if (auto tier = u->object(tiers[t], Need::required)) {
        auto& spread = a.prediction_spread[t];
        spread.calibrated_log_sigma =
            tier->number("calibrated_log_sigma", Need::required, kSigma).value_or(spread.calibrated_log_sigma);
        spread.uncalibrated_log_sigma =
            tier->number("uncalibrated_log_sigma", Need::required, kSigma).value_or(spread.uncalibrated_log_sigma);
        spread.by_class.clear();
        if (auto classes = tier->object("by_class", Need::optional)) {
          for (const auto& key : classes->keys()) {
            if (auto sigma = classes->number(key, Need::required, kSigma)) spread.by_class[key] = *sigma;
          }
          classes->finish();
        }
        tier->finish();
      }
    }
    u->allow("method");
    u->finish();
    a.prediction_spread_source = fmt::format("cross-validated ({}, uncertainty)", shown);
  }
  std::string provenance = fmt::format("calibrated ({})", shown);
  if (const auto* p = top.raw("provenance", Need::optional); p != nullptr && p->is_object() && p->contains("summary")) {
    provenance = fmt::format("calibrated ({}): {}", shown, (*p)["summary"].get<std::string>());
  }
  std::set<std::string> fitted;
  if (auto params = top.object("parameters", Need::required)) {
    for (const auto& name : params->keys()) {
      auto entry = params->object(name, Need::required);
      if (!entry) continue;
      const auto value = entry->number("value", Need::required);
      entry->allow("unit");
      entry->allow("prior");
      entry->allow("low");
      entry->allow("high");
      entry->finish();
      if (a.field(name) == nullptr) {
        params->problem(name, "is not an assumption a calibration can set");
        continue;
      }
      if (!value) continue;
      fitted.insert(name);
      replace_value(a, name, *value, provenance);
    }
  }
  top.finish();
  throw_if_any(problems);
  transfer_kernels(a, prior, fitted);
}

class Reader {
 public:
  explicit Reader(Assumptions& out) : out_(out) {}

  // Reads `key` of `section` into `target`, recording it for the assumptions list as "prefix.key".
  void read(JsonReader& section, const std::string& prefix, std::string_view key, Dimension dimension, double& target,
            NumberBounds bounds = {.min = 0, .min_exclusive = true}) {
    read_recorded(section, prefix, key, dimension, target, bounds, out_.provenance);
  }

 private:
  Assumptions& out_;
};

}  // namespace

const Quantity* Assumptions::recorded(std::string_view name) const {
  const auto it = std::find_if(provenance.begin(), provenance.end(), [&](const auto& p) { return p.first == name; });
  return it == provenance.end() ? nullptr : &it->second;
}

void transfer_kernels(Assumptions& a, const Assumptions& prior, const std::set<std::string>& fitted) {
  // The families the calibration saw: those with a fitted kernel parameter ("kernels.<family>.<field>").
  std::set<std::string> calibrated;
  for (const auto& name : fitted) {
    if (name.rfind("kernels.", 0) == 0) calibrated.insert(name.substr(8, name.find('.', 8) - 8));
  }
  // What a family's kernels are, apart from how its chips connect (all_to_all_sm_fraction is its SM count's). Only
  // the fitted ones have a correction to transfer; kv_read is fitted to the serving runs per family, not here, and
  // all_to_all_efficiency is each family's fabric's.
  static constexpr std::array<std::string_view, 13> kFields{
      "gemm_bf16",          "gemm_fp8",        "gemm_fp4",    "gemm_half_dim",       "grouped_gemm",
      "attention_forward",  "attention_backward", "attention_half_seq", "attention_half_head_dim",
      "flash2_fraction",    "memory_bound",    "grouped_weight_read", "weight_read"};
  const auto measured = [&](const std::string& name) {
    const Quantity* q = prior.recorded(name);
    return q != nullptr && q->is_measured();
  };
  // A calibrated family's attention forward, which no run separates from its backward and no measurement fixes,
  // takes the fitted backward's correction: one kernel family, the same tiles both ways.
  for (const auto& family : calibrated) {
    const std::string backward = "kernels." + family + ".attention_backward";
    const std::string forward = "kernels." + family + ".attention_forward";
    if (fitted.count(backward) == 0 || fitted.count(forward) != 0 || measured(forward)) continue;
    const double correction = *a.field(backward) / *prior.field(backward);
    replace_value(a, forward, std::min(1.0, *prior.field(forward) * correction),
                  fmt::format("prior x {:.4g}, the calibration's correction to {} (fitted {:.4g} over prior {:.4g}): "
                              "the forward of the same attention kernels", correction, backward, *a.field(backward),
                              *prior.field(backward)));
  }
  for (const auto& [target, source] : a.kernel_transfer) {
    if (calibrated.count(target) != 0 || calibrated.count(source) == 0) continue;
    const std::string to = "kernels." + target + ".";
    const std::string from = "kernels." + source + ".";
    for (const auto field : kFields) {
      const std::string name = to + std::string(field);
      if (measured(name)) continue;  // the family's own measurement stays
      // The source's correction to its prior: this field's fit, or for a precision the source has no units for
      // (so no fit), its next wider one's; an attention forward no run separates, its backward's.
      std::string basis = from + std::string(field);
      if (fitted.count(basis) == 0 && field == "gemm_fp4") basis = from + "gemm_fp8";
      if (fitted.count(basis) == 0 && (field == "gemm_fp4" || field == "gemm_fp8")) basis = from + "gemm_bf16";
      if (fitted.count(basis) == 0 && field == "attention_forward") basis = from + "attention_backward";
      if (fitted.count(basis) == 0) continue;
      const double correction = *a.field(basis) / *prior.field(basis);
      // An efficiency stays a share of the peak: at most 1 (the sizes at half efficiency are counts).
      const Quantity* q = prior.recorded(name);
      const bool share = q != nullptr && q->unit == "fraction";
      const double value = share ? std::min(1.0, *prior.field(name) * correction) : *prior.field(name) * correction;
      replace_value(a, name, value,
          fmt::format("prior x {:.4g}, the calibration's correction to {} (fitted {:.4g} over prior {:.4g}), "
                      "transferred: {} has no calibration runs (assumptions.json kernel_transfer)",
                      correction, basis, *a.field(basis), *prior.field(basis), target));
    }
  }
}

Assumptions load_assumptions(const fs::path& root, bool calibrated, const fs::path& calibration_file) {
  const fs::path file = root / "models" / "data" / "assumptions.json";
  const auto json = read_json_file(file);
  std::vector<Problem> problems;
  Assumptions a;
  Reader read(a);
  JsonReader top(json, file.string(), "", problems);
  constexpr NumberBounds kFraction{.min = 0, .max = 1, .min_exclusive = true};
  if (auto kernels = top.object("kernels", Need::required)) {
    for (const auto& family : kernels->keys()) {
      auto section = kernels->object(family, Need::required);
      if (!section) continue;
      KernelEfficiency k;
      const std::string prefix = "kernels." + family;
      read.read(*section, prefix, "gemm_bf16", Dimension::fraction, k.gemm_bf16, kFraction);
      read.read(*section, prefix, "gemm_fp8", Dimension::fraction, k.gemm_fp8, kFraction);
      read.read(*section, prefix, "gemm_fp4", Dimension::fraction, k.gemm_fp4, kFraction);
      read.read(*section, prefix, "gemm_half_dim", Dimension::count, k.gemm_half_dim);
      read.read(*section, prefix, "grouped_gemm", Dimension::fraction, k.grouped_gemm, kFraction);
      read.read(*section, prefix, "attention_forward", Dimension::fraction, k.attention_forward, kFraction);
      read.read(*section, prefix, "attention_backward", Dimension::fraction, k.attention_backward, kFraction);
      read.read(*section, prefix, "attention_half_seq", Dimension::count, k.attention_half_seq);
      read.read(*section, prefix, "attention_half_head_dim", Dimension::count, k.attention_half_head_dim);
      read.read(*section, prefix, "flash2_fraction", Dimension::fraction, k.flash2_fraction, kFraction);
      read.read(*section, prefix, "memory_bound", Dimension::fraction, k.memory_bound, kFraction);
      read.read(*section, prefix, "grouped_weight_read", Dimension::fraction, k.grouped_weight_read, kFraction);
      read.read(*section, prefix, "weight_read", Dimension::fraction, k.weight_read, kFraction);
      read.read(*section, prefix, "kv_read", Dimension::fraction, k.kv_read, kFraction);
      // Zero (no SMs apart) allowed; below 1, since the kernels run on what is left: 1 / (1 - fraction) as long.
      read.read(*section, prefix, "all_to_all_sm_fraction", Dimension::fraction, k.all_to_all_sm_fraction,
                NumberBounds{.min = 0, .max = 0.9});
      read.read(*section, prefix, "all_to_all_efficiency", Dimension::fraction, k.all_to_all_efficiency, kFraction);
      section->finish();
      a.kernels[family] = k;
    }
  }
  const auto known_families = [&] {
    std::string names;
    for (const auto& [family, kernel] : a.kernels) names += (names.empty() ? "" : ", ") + family;
    return names;
  };
  if (auto t = top.object("kernel_transfer", Need::optional)) {
    // {"blackwell": {"from": "hopper", "reason": "..."}}: each family and its source must have kernels.
    for (const auto& target : t->keys()) {
      auto entry = t->object(target, Need::required);
      if (!entry) continue;
      const auto from = entry->string("from", Need::required);
      entry->string("reason", Need::required);
      if (a.kernels.count(target) == 0) {
        t->problem(target, fmt::format("is not a chip family of kernels (known: {})", known_families()));
      } else if (from && a.kernels.count(*from) == 0) {
        entry->problem("from", fmt::format("\"{}\" is not a chip family of kernels (known: {})", *from,
                                           known_families()));
      } else if (from && *from == target) {
        entry->problem("from", "names the family itself");
      } else if (from) {
        a.kernel_transfer[target] = *from;
      }
      entry->finish();
    }
    t->finish();
  }
  if (auto c = top.object("collectives", Need::required)) {
    read.read(*c, "collectives", "bus_efficiency_switch", Dimension::fraction, a.bus_efficiency_switch, kFraction);
    read.read(*c, "collectives", "bus_efficiency_mesh", Dimension::fraction, a.bus_efficiency_mesh, kFraction);
    read.read(*c, "collectives", "bus_efficiency_supernode", Dimension::fraction, a.bus_efficiency_supernode, kFraction);
    read.read(*c, "collectives", "bus_efficiency_scaleout", Dimension::fraction, a.bus_efficiency_scaleout, kFraction);
    read.read(*c, "collectives", "all_to_all_efficiency_scaleout", Dimension::fraction,
              a.all_to_all_efficiency_scaleout, kFraction);
    read.read(*c, "collectives", "tree_bandwidth_fraction", Dimension::fraction, a.tree_bandwidth_fraction, kFraction);
    read.read(*c, "collectives", "tp_overlap_hidden_fraction", Dimension::fraction, a.tp_overlap_hidden_fraction,
              kFraction);
    read.read(*c, "collectives", "ep_overlap_hidden_fraction", Dimension::fraction, a.ep_overlap_hidden_fraction,
              kFraction);
    c->finish();
  }
  if (auto o = top.object("overheads", Need::required)) {
    read.read(*o, "overheads", "per_step", Dimension::time, a.per_step_overhead_s, {.min = 0});
    read.read(*o, "overheads", "per_layer", Dimension::time, a.per_layer_overhead_s, {.min = 0});
    read.read(*o, "overheads", "per_moe_layer", Dimension::time, a.per_moe_layer_overhead_s, {.min = 0});
    o->finish();
  }
  if (auto m = top.object("memory", Need::required)) {
    read.read(*m, "memory", "reserved", Dimension::bytes, a.memory_reserved_bytes, {.min = 0});
    read.read(*m, "memory", "usable_fraction", Dimension::fraction, a.memory_usable_fraction, kFraction);
    read.read(*m, "memory", "host_optimizer_bandwidth_fraction", Dimension::fraction,
              a.host_optimizer_bandwidth_fraction, kFraction);
    m->finish();
  }
  if (auto p = top.object("power_and_cost", Need::required)) {
    read.read(*p, "power_and_cost", "chip_power_fraction_of_tdp", Dimension::fraction, a.chip_power_fraction_of_tdp,
              kFraction);
    read.read(*p, "power_and_cost", "pue", Dimension::fraction, a.pue, {.min = 1.0, .max = 5.0});
    read.read(*p, "power_and_cost", "electricity", Dimension::energy_price, a.electricity_usd_per_kwh);
    read.read(*p, "power_and_cost", "depreciation", Dimension::count, a.depreciation_years);
    p->finish();
  }
  if (auto s = top.object("serving", Need::required)) {
    read.read(*s, "serving", "per_step_overhead", Dimension::time, a.serving_per_step_overhead_s, {.min = 0});
    read.read(*s, "serving", "per_layer_overhead", Dimension::time, a.serving_per_layer_overhead_s, {.min = 0});
    read.read(*s, "serving", "per_moe_layer_overhead", Dimension::time, a.serving_per_moe_layer_overhead_s, {.min = 0});
    read.read(*s, "serving", "kv_block_tokens", Dimension::count, a.kv_block_tokens, {.min = 1, .max = 4096});
    read.read(*s, "serving", "synthetic_expert_load_cv", Dimension::fraction, a.serving_synthetic_expert_load_cv,
              {.min = 0, .max = 10});
    constexpr NumberBounds kServingSigma{.min = 0, .max = 2, .min_exclusive = true};
    read.read(*s, "serving", "log_sigma_dense", Dimension::fraction, a.serving_log_sigma_dense, kServingSigma);
    read.read(*s, "serving", "log_sigma_moe", Dimension::fraction, a.serving_log_sigma_moe, kServingSigma);
    s->finish();
  }
  if (auto u = top.object("uncertainty", Need::required)) {
    constexpr NumberBounds kSigma{.min = 0, .max = 2, .min_exclusive = true};
    auto& spread = a.prediction_spread[0];
    read.read(*u, "uncertainty", "calibrated_log_sigma", Dimension::fraction, spread.calibrated_log_sigma, kSigma);
    read.read(*u, "uncertainty", "uncalibrated_log_sigma", Dimension::fraction, spread.uncalibrated_log_sigma, kSigma);
    a.prediction_spread[1] = spread;
    a.prediction_spread_source = "prior (models/data/assumptions.json, uncertainty)";
    u->finish();
  }
  top.finish();
  throw_if_any(problems);
  if (!calibrated) return a;
  if (!calibration_file.empty()) {
    if (!fs::is_regular_file(calibration_file)) {
      throw IoError(fmt::format("{}: no such calibration file (write one with flopcast calibrate --runs FILE --out {})",
                                calibration_file.string(), calibration_file.string()));
    }
    apply_calibration(a, calibration_file, calibration_file.string());
    return a;
  }
  const fs::path shipped = root / "models" / "data" / "calibration.json";
  if (fs::exists(shipped)) apply_calibration(a, shipped, "models/data/calibration.json");
  return a;
}

}  // namespace flopcast
