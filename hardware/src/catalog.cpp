#include "flopcast/hardware/catalog.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/core/text.hpp"

namespace flopcast {
namespace fs = std::filesystem;

double Chip::compute_clock_fraction() const {
  if (!peak_power || !(tdp.value < peak_power->value)) return 1.0;
  return std::cbrt(tdp.value / peak_power->value);
}

std::string_view to_string(DataType type) {
  switch (type) {
    case DataType::fp64: return "fp64";
    case DataType::fp32: return "fp32";
    case DataType::tf32: return "tf32";
    case DataType::bf16: return "bf16";
    case DataType::fp8: return "fp8";
    case DataType::int8: return "int8";
    case DataType::fp4: return "fp4";
    case DataType::mxfp8: return "mxfp8";
    case DataType::nvfp4: return "nvfp4";
    case DataType::mxfp4: return "mxfp4";
  }
  return "?";
}

std::optional<DataType> parse_data_type(std::string_view name) {
  for (auto type : kAllDataTypes) {
    if (to_string(type) == name) return type;
  }
  return std::nullopt;
}

int bit_length(DataType type) {
  switch (type) {
    case DataType::fp64: return 64;
    case DataType::fp32: return 32;
    case DataType::tf32: return 32;  // stored and counted as a 32-bit operand
    case DataType::bf16: return 16;
    case DataType::fp8: return 8;
    case DataType::int8: return 8;
    case DataType::fp4: return 4;
    case DataType::mxfp8: return 8;
    case DataType::nvfp4: return 4;
    case DataType::mxfp4: return 4;
  }
  return 0;
}

double bytes_per_element(DataType type) {
  // Block-scaled formats carry their scales: MXFP8 and MXFP4 one 8-bit scale per 32 elements (OCP Microscaling spec
  // v1.0), NVFP4 one FP8 scale per 16 elements (NVIDIA Blackwell NVFP4); the per-tensor fp32 scale is negligible.
  if (type == DataType::mxfp8) return 1.0 + 1.0 / 32.0;
  if (type == DataType::mxfp4) return 0.5 + 1.0 / 32.0;
  if (type == DataType::nvfp4) return 0.5 + 1.0 / 16.0;
  return bit_length(type) / 8.0;
}

std::string_view to_string(NodeFabric fabric) {
  switch (fabric) {
    case NodeFabric::switched: return "switch";
    case NodeFabric::mesh: return "mesh";
    case NodeFabric::supernode: return "supernode";
  }
  return "?";
}

namespace {

template <class T>
const T* find_by_id(const std::vector<T>& items, std::string_view id) {
  const auto it = std::find_if(items.begin(), items.end(), [&](const T& item) { return item.id == id; });
  return it == items.end() ? nullptr : &*it;
}

template <class T>
std::vector<std::string> ids_of(const std::vector<T>& items) {
  std::vector<std::string> ids;
  for (const auto& item : items) ids.push_back(item.id);
  return ids;
}

constexpr NumberBounds kPositive{.min = 0, .min_exclusive = true};
constexpr NumberBounds kNonNegative{.min = 0};

// Reads a quantity that must be present; a missing or bad one is already recorded, so a zero stands in.
Quantity need(JsonReader& reader, std::string_view key, Dimension dimension, NumberBounds bounds = kPositive) {
  return reader.quantity(key, Need::required, dimension, bounds).value_or(Quantity{});
}

void check_unique_ids(const std::vector<std::string>& ids, const std::string& file, std::string_view array,
                      std::vector<Problem>& problems) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (ids[i] == ids[j]) {
        problems.push_back({file, fmt::format("/{}/{}/id", array, i),
                            fmt::format("duplicate id \"{}\" (also at index {})", ids[i], j)});
      }
    }
  }
}

Chip read_chip(JsonReader& reader) {
  Chip chip;
  chip.id = reader.string("id", Need::required).value_or("");
  chip.name = reader.string("name", Need::required).value_or("");
  chip.vendor = reader.string("vendor", Need::required).value_or("");
  static const std::vector<std::string> kFamilies{"ampere", "hopper", "blackwell", "ascend-910", "ascend-950"};
  chip.family = reader.choice("family", Need::required, kFamilies).value_or("");
  chip.default_node = reader.string("default_node", Need::required).value_or("");
  chip.launch_year = need(reader, "launch_year", Dimension::count);
  if (auto peaks = reader.object("peak_dense", Need::required)) {
    for (auto type : kAllDataTypes) {
      chip.peak_dense[static_cast<std::size_t>(type)] =
          peaks->quantity(to_string(type), Need::optional, Dimension::flop_rate, kPositive);
    }
    peaks->finish();
    if (!chip.peak(DataType::bf16)) peaks->problem("bf16", "is required: every estimate needs the bf16 peak");
  }
  chip.hbm_capacity = need(reader, "hbm_capacity", Dimension::bytes);
  chip.hbm_bandwidth = need(reader, "hbm_bandwidth", Dimension::byte_rate);
  chip.scaleup_bandwidth_per_direction = need(reader, "scaleup_bandwidth_per_direction", Dimension::byte_rate);
  chip.scaleup_domain = need(reader, "scaleup_domain", Dimension::count);
  chip.sm_count = reader.quantity("sm_count", Need::optional, Dimension::count, kPositive);
  chip.nic_bandwidth = need(reader, "nic_bandwidth", Dimension::byte_rate);
  chip.tdp = need(reader, "tdp", Dimension::power);
  chip.peak_power = reader.quantity("peak_power", Need::optional, Dimension::power, kPositive);
  if (chip.peak_power && chip.peak_power->value < chip.tdp.value) {
    reader.problem("peak_power", "is below tdp; it is the board power the peaks are quoted at, for a chip run below it");
  }
  chip.die_area = need(reader, "die_area", Dimension::area);
  chip.price = reader.quantity("price", Need::optional, Dimension::money, kPositive);
  chip.rental_price = reader.quantity("rental_price", Need::optional, Dimension::money_rate, kPositive);
  reader.finish();
  return chip;
}

Node read_node(JsonReader& reader) {
  Node node;
  node.id = reader.string("id", Need::required).value_or("");
  node.name = reader.string("name", Need::required).value_or("");
  node.chip = reader.string("chip", Need::required).value_or("");
  node.chips = need(reader, "chips", Dimension::count);
  static const std::vector<std::string> kFabrics{"switch", "mesh", "supernode"};
  const auto fabric = reader.choice("fabric", Need::required, kFabrics).value_or("switch");
  node.fabric = fabric == "mesh" ? NodeFabric::mesh : fabric == "supernode" ? NodeFabric::supernode : NodeFabric::switched;
  node.in_network_reduction = reader.boolean("in_network_reduction", Need::required).value_or(false);
  node.scaleup_bandwidth_per_direction = need(reader, "scaleup_bandwidth_per_direction", Dimension::byte_rate);
  node.scaleup_latency = need(reader, "scaleup_latency", Dimension::time);
  node.nics = need(reader, "nics", Dimension::count);
  node.nic_bandwidth = need(reader, "nic_bandwidth", Dimension::byte_rate);
  node.host_link_bandwidth_per_direction =
      reader.quantity("host_link_bandwidth_per_direction", Need::optional, Dimension::byte_rate, kPositive);
  node.host_memory_bandwidth = reader.quantity("host_memory_bandwidth", Need::optional, Dimension::byte_rate, kPositive);
  node.default_fabric = reader.string("default_fabric", Need::required).value_or("");
  node.host_power = need(reader, "host_power", Dimension::power, kNonNegative);
  node.host_capex = need(reader, "host_capex", Dimension::money, kNonNegative);
  reader.finish();
  return node;
}

Fabric read_fabric(JsonReader& reader) {
  Fabric fabric;
  fabric.id = reader.string("id", Need::required).value_or("");
  fabric.name = reader.string("name", Need::required).value_or("");
  fabric.port_bandwidth = need(reader, "port_bandwidth", Dimension::byte_rate);
  fabric.switch_radix = need(reader, "switch_radix", Dimension::count);
  fabric.switch_latency = need(reader, "switch_latency", Dimension::time);
  fabric.nic_latency = need(reader, "nic_latency", Dimension::time);
  fabric.switch_capex_per_port = need(reader, "switch_capex_per_port", Dimension::money, kNonNegative);
  fabric.switch_power_per_port = need(reader, "switch_power_per_port", Dimension::power, kNonNegative);
  reader.finish();
  return fabric;
}

// Reads one catalog file: a top-level object with the array `array_key` of items.
template <class T, class ReadItem>
std::vector<T> read_items(const fs::path& path, std::string_view array_key, ReadItem read_item,
                          std::vector<Problem>& problems, std::string* version = nullptr) {
  std::vector<T> items;
  nlohmann::json json;
  try {
    json = read_json_file(path);
  } catch (const InputError& error) {
    problems.insert(problems.end(), error.problems().begin(), error.problems().end());
    return items;
  }
  JsonReader root(json, path.string(), "", problems);
  if (version != nullptr) *version = root.string("catalog_version", Need::required).value_or("");
  if (auto readers = root.objects(array_key, Need::required)) {
    for (auto& reader : *readers) {
      if (reader.is_object()) items.push_back(read_item(reader));
    }
  }
  root.finish();
  check_unique_ids(ids_of(items), path.string(), array_key, problems);
  return items;
}

}  // namespace

const Chip* Catalog::find_chip(std::string_view id) const { return find_by_id(chips, id); }
const Node* Catalog::find_node(std::string_view id) const { return find_by_id(nodes, id); }
const Fabric* Catalog::find_fabric(std::string_view id) const { return find_by_id(fabrics, id); }
std::vector<std::string> Catalog::chip_ids() const { return ids_of(chips); }
std::vector<std::string> Catalog::node_ids() const { return ids_of(nodes); }
std::vector<std::string> Catalog::fabric_ids() const { return ids_of(fabrics); }

fs::path data_root() {
  if (const char* override_dir = std::getenv("FLOPCAST_DATA_DIR"); override_dir != nullptr && *override_dir != 0) {
    return override_dir;
  }
  return FLOPCAST_SOURCE_DATA_ROOT;
}

Catalog load_catalog(const fs::path& root) {
  std::vector<Problem> problems;
  Catalog catalog;
  const fs::path dir = root / "hardware" / "data";
  catalog.chips = read_items<Chip>(dir / "chips.json", "chips", read_chip, problems, &catalog.version);
  catalog.nodes = read_items<Node>(dir / "nodes.json", "nodes", read_node, problems);
  catalog.fabrics = read_items<Fabric>(dir / "networks.json", "fabrics", read_fabric, problems);

  // Cross-references, checked once everything is read.
  const auto node_ids = catalog.node_ids();
  const auto chip_ids = catalog.chip_ids();
  for (std::size_t i = 0; i < catalog.chips.size(); ++i) {
    const auto& chip = catalog.chips[i];
    if (!chip.default_node.empty() && catalog.find_node(chip.default_node) == nullptr) {
      problems.push_back({(dir / "chips.json").string(), fmt::format("/chips/{}/default_node", i),
                          fmt::format("unknown node \"{}\"{}", chip.default_node,
                                      did_you_mean(chip.default_node, node_ids))});
    }
  }
  for (std::size_t i = 0; i < catalog.nodes.size(); ++i) {
    const auto& node = catalog.nodes[i];
    if (!node.chip.empty() && catalog.find_chip(node.chip) == nullptr) {
      problems.push_back({(dir / "nodes.json").string(), fmt::format("/nodes/{}/chip", i),
                          fmt::format("unknown chip \"{}\"{}", node.chip, did_you_mean(node.chip, chip_ids))});
    }
    if (!node.default_fabric.empty() && catalog.find_fabric(node.default_fabric) == nullptr) {
      problems.push_back({(dir / "nodes.json").string(), fmt::format("/nodes/{}/default_fabric", i),
                          fmt::format("unknown fabric \"{}\"{}", node.default_fabric,
                                      did_you_mean(node.default_fabric, catalog.fabric_ids()))});
    }
  }
  throw_if_any(problems);
  return catalog;
}

}  // namespace flopcast
