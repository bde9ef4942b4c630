#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/hardware/export_control.hpp"
#include "flopcast/models/accounting.hpp"
#include "format.hpp"

namespace flopcast::cli {

namespace {

nlohmann::json chip_json(const Chip& chip) {
  const auto exports = classify_export(chip);
  nlohmann::json peaks = nlohmann::json::object();
  nlohmann::json peak_detail = nlohmann::json::object();
  for (auto type : kAllDataTypes) {
    if (!chip.peak(type)) continue;
    peaks[std::string(to_string(type))] = chip.peak(type)->value;
    peak_detail[std::string(to_string(type))] = quantity_to_json(*chip.peak(type));
  }
  nlohmann::json j = {
      {"id", chip.id},
      {"name", chip.name},
      {"vendor", chip.vendor},
      {"family", chip.family},
      {"launch_year", chip.launch_year.value},
      {"peak_flop_per_s", peaks},
      {"peak_flop_per_s_detail", peak_detail},
      {"hbm_bytes", chip.hbm_capacity.value},
      {"hbm_bytes_per_s", chip.hbm_bandwidth.value},
      {"scaleup_bytes_per_s_per_direction", chip.scaleup_bandwidth_per_direction.value},
      {"scaleup_domain_chips", chip.scaleup_domain.value},
      {"nic_bytes_per_s", chip.nic_bandwidth.value},
      {"tdp_w", chip.tdp.value},
      {"die_area_mm2", chip.die_area.value},
      {"default_node", chip.default_node},
      {"tpp", exports.tpp},
      {"tpp_low", exports.tpp_low},
      {"tpp_high", exports.tpp_high},
      {"tpp_data_type", std::string(to_string(exports.tpp_data_type))},
      {"performance_density", exports.performance_density},
      {"export_control",
       {{"rule_2022_10", {{"status", std::string(to_string(exports.rule_2022))}, {"reason", exports.reason_2022}}},
        {"rule_2023_10", {{"status", std::string(to_string(exports.rule_2023))}, {"reason", exports.reason_2023}}}}},
  };
  // The board power the peaks are quoted at (null: the tdp), and the tensor-core clock the tdp then sustains.
  j["peak_power_w"] = chip.peak_power ? nlohmann::json(chip.peak_power->value) : nlohmann::json(nullptr);
  j["compute_clock_fraction"] = chip.compute_clock_fraction();
  j["sm_count"] = chip.sm_count ? nlohmann::json(chip.sm_count->value) : nlohmann::json(nullptr);
  j["price_usd"] = chip.price ? nlohmann::json(chip.price->value) : nlohmann::json(nullptr);
  j["rental_usd_per_hour"] = chip.rental_price ? nlohmann::json(chip.rental_price->value) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json model_json(const ModelArch& m) {
  const auto p = count_params(m);
  nlohmann::json j = {{"id", m.id},
                      {"name", m.name},
                      {"params_total", p.total},
                      {"params_active", p.active},
                      {"params_active_without_input_embedding", p.active_without_input_embedding},
                      {"params_mtp", p.mtp_total},
                      {"layers", m.layers},
                      {"hidden", m.hidden},
                      {"attention", std::string(to_string(m.attention))},
                      {"moe", m.is_moe()},
                      {"hypothetical", m.hypothetical},
                      {"source", m.source}};
  if (m.is_hybrid()) j["hybrid_pattern"] = m.hybrid_pattern;
  if (m.published_params_total) j["published_params_total"] = quantity_to_json(*m.published_params_total);
  if (m.published_params_active) j["published_params_active"] = quantity_to_json(*m.published_params_active);
  if (m.published_training_tokens) j["published_training_tokens"] = quantity_to_json(*m.published_training_tokens);
  return j;
}

std::string range_text(const Quantity& q, double scale, int decimals) {
  if (q.low || q.high) {
    return fmt::format("{:.{}f} ({:.{}f}-{:.{}f})", q.value / scale, decimals, q.low_or_value() / scale, decimals,
                       q.high_or_value() / scale, decimals);
  }
  return fmt::format("{:.{}f}{}", q.value / scale, decimals, q.is_estimate() ? " ~" : "");
}

// Catalog figures a row each, with their source or estimate below, wrapped to 100 columns; a source the row above
// also gave is not repeated.
class QuantityRows {
 public:
  explicit QuantityRows(std::ostream& out) : out_(out) {}
  void print(const std::string& label, const Quantity& q, const std::string& shown) {
    fmt::print(out_, "  {:<34} {}\n", label, shown);
    if (!q.source.empty()) note(q.source == last_source_ ? std::string("source: as above") : "source: " + q.source);
    if (q.is_estimate()) note("estimate: " + q.estimate);
    last_source_ = q.source;
  }

 private:
  void note(const std::string& text) {
    constexpr std::size_t kIndent = 4;
    fmt::print(out_, "{}\n", wrap_lines(std::string(kIndent, ' ') + text, 100, kIndent));
  }
  std::ostream& out_;
  std::string last_source_;
};

}  // namespace

int catalog_chips(bool json, const Catalogs& catalogs, std::ostream& out) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& chip : catalogs.hardware.chips) list.push_back(chip_json(chip));
    out << list.dump(2) << '\n';
    return 0;
  }
  // Fits 100 columns: the export rules by their code alone (`catalog show` gives the reasons).
  const auto code = [](std::string_view rule) { return std::string(rule.substr(0, rule.find(" ("))); };
  fmt::print(out, "{:<13} {:<13} {:>9} {:>4} {:>5} {:>5} {:>5} {:>6}  {:<14} {}\n", "id", "bf16 TFLOP/s", "fp8", "GiB",
             "TB/s", "GB/s", "TDP W", "TPP", "Oct 2022", "Oct 2023");
  for (const auto& chip : catalogs.hardware.chips) {
    const auto e = classify_export(chip);
    const auto& fp8 = chip.peak(DataType::fp8);
    fmt::print(out, "{:<13} {:<13} {:>9} {:>4.0f} {:>5.2f} {:>5.0f} {:>5.0f} {:>6.0f}  {:<14} {}\n", chip.id,
               range_text(*chip.peak(DataType::bf16), 1e12, 0), fp8 ? range_text(*fp8, 1e12, 0) : "-",
               chip.hbm_capacity.value / kBytesPerGiB, chip.hbm_bandwidth.value / 1e12,
               chip.scaleup_bandwidth_per_direction.value / 1e9, chip.tdp.value, e.tpp, code(to_string(e.rule_2022)),
               code(to_string(e.rule_2023)));
  }
  fmt::print(out,
             "\nDense peaks in TFLOP/s (fp8 too); GiB and TB/s: HBM capacity and bandwidth; GB/s: scale-up\n"
             "per direction. ~ marks an estimate; (low-high) a disputed figure. TPP = dense TOP/s x bit length.\n"
             "US export rules: 3A090 controlled (2022), 3A090.a licence required, 3A090.b gray band (2023).\n"
             "`flopcast catalog show ID` lists every source, the performance density and the reasons.\n");
  return 0;
}

int catalog_models(bool json, const Catalogs& catalogs, std::ostream& out) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& model : catalogs.models.models) list.push_back(model_json(model));
    out << list.dump(2) << '\n';
    return 0;
  }
  // Fits 100 columns: the id, the sizes and as much of the name as is left (`catalog show ID` has all of it).
  constexpr std::size_t kNameWidth = 30;
  const auto name_text = [](const ModelArch& m) {
    std::string name = (m.hypothetical ? "[hypothetical] " : "") + m.name;
    return name.size() <= kNameWidth ? name : name.substr(0, kNameWidth - 3) + "...";
  };
  fmt::print(out, "{:<24} {:>7} {:>7} {:>6} {:>6} {:>6} {:<5} {}\n", "id", "total", "active", "layers", "hidden",
             "moe", "attn", "name");
  for (const auto& m : catalogs.models.models) {
    const auto p = count_params(m);
    fmt::print(out, "{:<24} {:>7} {:>7} {:>6} {:>6} {:>6} {:<5} {}\n", m.id, count(p.total), count(p.active),
               m.layers, m.hidden, m.is_moe() ? fmt::format("{}/{}", m.moe->top_k, m.moe->experts) : "-",
               to_string(m.attention), name_text(m));
  }
  fmt::print(out, "\nParameters in total and active per token; moe: routed experts per token / experts.\n");
  return 0;
}

int catalog_show(const std::string& id, bool json, const Catalogs& catalogs, std::ostream& out) {
  QuantityRows rows(out);
  if (const auto* chip = catalogs.hardware.find_chip(id)) {
    if (json) {
      out << chip_json(*chip).dump(2) << '\n';
      return 0;
    }
    const auto e = classify_export(*chip);
    fmt::print(out, "{} ({}, {}, family {})\n", chip->name, chip->id, chip->vendor, chip->family);
    for (auto type : kAllDataTypes) {
      if (chip->peak(type)) {
        rows.print(fmt::format("peak dense {}", to_string(type)), *chip->peak(type),
                       range_text(*chip->peak(type), 1e12, 1) + (type == DataType::int8 ? " TOP/s" : " TFLOP/s"));
      }
    }
    rows.print("HBM capacity", chip->hbm_capacity, bytes(chip->hbm_capacity.value));
    rows.print("HBM bandwidth", chip->hbm_bandwidth, byte_rate(chip->hbm_bandwidth.value));
    rows.print("scale-up bandwidth per direction", chip->scaleup_bandwidth_per_direction,
                   byte_rate(chip->scaleup_bandwidth_per_direction.value));
    rows.print("scale-up domain", chip->scaleup_domain, fmt::format("{:.0f} chips", chip->scaleup_domain.value));
    if (chip->sm_count) rows.print("streaming multiprocessors", *chip->sm_count, fmt::format("{:.0f} SMs", chip->sm_count->value));
    rows.print("NIC bandwidth per chip", chip->nic_bandwidth, byte_rate(chip->nic_bandwidth.value));
    rows.print("TDP", chip->tdp, fmt::format("{:.0f} W", chip->tdp.value));
    if (chip->peak_power) {
      rows.print("peaks quoted at", *chip->peak_power,
                     fmt::format("{:.0f} W board power (tensor cores at {:.3f} of that clock)", chip->peak_power->value,
                                 chip->compute_clock_fraction()));
    }
    rows.print("die area", chip->die_area, fmt::format("{:.0f} mm^2", chip->die_area.value));
    if (chip->price) rows.print("price", *chip->price, usd(chip->price->value));
    if (chip->rental_price) {
      rows.print("rental price", *chip->rental_price, fmt::format("${:.2f} per chip-hour", chip->rental_price->value));
    }
    rows.print("launch year", chip->launch_year, fmt::format("{:.0f}", chip->launch_year.value));
    fmt::print(out, "  {:<34} {:.0f} ({} x {} bits; range {:.0f}-{:.0f})\n", "TPP", e.tpp, to_string(e.tpp_data_type),
               bit_length(e.tpp_data_type), e.tpp_low, e.tpp_high);
    fmt::print(out, "  {:<34} {:.2f}\n", "performance density (TPP/mm^2)", e.performance_density);
    fmt::print(out, "{}\n",
               wrap_lines(fmt::format("  {:<34} {}: {}", "US rule of October 2022", to_string(e.rule_2022),
                                      e.reason_2022),
                          100, 39));
    fmt::print(out, "{}\n",
               wrap_lines(fmt::format("  {:<34} {}: {}", "US rule of October 2023", to_string(e.rule_2023),
                                      e.reason_2023),
                          100, 39));
    return 0;
  }
  if (const auto* model = catalogs.models.find(id)) {
    if (json) {
      out << model_json(*model).dump(2) << '\n';
      return 0;
    }
    const auto p = count_params(*model);
    fmt::print(out, "{} ({}){}\n", model->name, model->id, model->hypothetical ? "  [hypothetical]" : "");
    fmt::print(out, "{}\n", wrap_lines("  source: " + model->source, 100, 4));
    fmt::print(out, "  {} layers, hidden {}, FFN {}, {} heads ({} KV), head dim {}, vocab {}, {}, {}\n", model->layers,
               model->hidden, model->ffn, model->heads, model->kv_heads, model->head_dim, model->vocab,
               to_string(model->attention), to_string(model->ffn_act));
    if (model->moe) {
      fmt::print(out, "  MoE: {} routed experts (top-{}), {} shared, expert FFN {}, {} leading dense layers\n",
                 model->moe->experts, model->moe->top_k, model->moe->shared_experts, model->moe->expert_ffn,
                 model->moe->dense_layers);
      if (model->moe->latent > 0) {
        fmt::print(out, "  LatentMoE: routed experts and all-to-alls {} wide (hidden {})\n", model->moe->latent,
                   model->hidden);
      }
    }
    if (model->mtp_modules > 0) {
      fmt::print(out, "  MTP: {} module{}{}\n", model->mtp_modules, model->mtp_modules == 1 ? "" : "s",
                 model->mtp_shared_weights ? ", one module's weights run that deep" : "");
    }
    if (model->is_hybrid()) {
      fmt::print(out, "{}\n",
                 wrap_lines(fmt::format("  hybrid: {} Mamba-2, {} attention, {} MoE and {} MLP layers, pattern {}",
                                        model->layer_count(LayerKind::mamba), model->layer_count(LayerKind::attention),
                                        model->layer_count(LayerKind::experts), model->layer_count(LayerKind::mlp),
                                        model->hybrid_pattern),
                            100, 4));
    }
    if (model->mamba) {
      const auto& s = *model->mamba;
      fmt::print(out, "  Mamba-2: {} heads x {}, state {}, {} groups, convolution {}, chunk {}\n", s.heads, s.head_dim,
                 s.state, s.groups, s.conv_kernel, s.chunk);
    }
    fmt::print(out, "  parameters: {} total, {} active ({} without the input embedding), {} in MTP modules\n",
               count(p.total), count(p.active), count(p.active_without_input_embedding), count(p.mtp_total));
    if (model->published_params_total) rows.print("published total", *model->published_params_total, count(model->published_params_total->value));
    if (model->published_params_active) rows.print("published active", *model->published_params_active, count(model->published_params_active->value));
    if (!model->notes.empty()) fmt::print(out, "{}\n", wrap_lines("  notes: " + model->notes, 100, 4));
    return 0;
  }
  if (const auto* node = catalogs.hardware.find_node(id)) {
    fmt::print(out, "{}\n",
               wrap_lines(fmt::format("{} ({}): {:.0f} x {}, {} fabric{}", node->name, node->id, node->chips.value,
                                      node->chip, to_string(node->fabric),
                                      node->in_network_reduction ? ", in-network reduction" : ""),
                          100, 2));
    rows.print("scale-up bandwidth per direction", node->scaleup_bandwidth_per_direction,
                   byte_rate(node->scaleup_bandwidth_per_direction.value));
    rows.print("scale-up latency", node->scaleup_latency, seconds(node->scaleup_latency.value));
    rows.print("NICs", node->nics, fmt::format("{:.0f} x {}", node->nics.value, byte_rate(node->nic_bandwidth.value)));
    rows.print("host power", node->host_power, fmt::format("{:.0f} W", node->host_power.value));
    rows.print("host capex", node->host_capex, usd(node->host_capex.value));
    return 0;
  }
  if (const auto* fabric = catalogs.hardware.find_fabric(id)) {
    fmt::print(out, "{} ({})\n", fabric->name, fabric->id);
    rows.print("port bandwidth", fabric->port_bandwidth, byte_rate(fabric->port_bandwidth.value));
    rows.print("switch radix", fabric->switch_radix, fmt::format("{:.0f} ports", fabric->switch_radix.value));
    rows.print("switch latency", fabric->switch_latency, seconds(fabric->switch_latency.value));
    rows.print("NIC latency", fabric->nic_latency, seconds(fabric->nic_latency.value));
    return 0;
  }
  std::vector<std::string> ids = catalogs.hardware.chip_ids();
  for (auto& list : {catalogs.models.ids(), catalogs.hardware.node_ids(), catalogs.hardware.fabric_ids()}) {
    ids.insert(ids.end(), list.begin(), list.end());
  }
  throw InputError("catalog", "", fmt::format("no chip, model, node or fabric \"{}\"{}", id, did_you_mean(id, ids)));
}

}  // namespace flopcast::cli
