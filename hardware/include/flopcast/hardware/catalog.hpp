#pragma once
// The hardware catalog: chips, scale-up domains (nodes) and scale-out fabrics, loaded from hardware/data/*.json.
// Every number is a Quantity (value in the internal unit of its dimension, with its source or its estimate).

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flopcast/core/units.hpp"

namespace flopcast {

// mxfp8, mxfp4 and nvfp4 are the block-scaled tensor-core formats (OCP MX FP8 and FP4 with an 8-bit scale per 32
// elements; NVIDIA's FP4 with an FP8 scale per 16 elements): a chip lists their peak only where its tensor cores run
// them natively.
enum class DataType { fp64, fp32, tf32, bf16, fp8, int8, fp4, mxfp8, nvfp4, mxfp4 };
inline constexpr std::array kAllDataTypes{DataType::fp64, DataType::fp32,  DataType::tf32,  DataType::bf16,
                                          DataType::fp8,  DataType::int8,  DataType::fp4,   DataType::mxfp8,
                                          DataType::nvfp4, DataType::mxfp4};

std::string_view to_string(DataType type);
std::optional<DataType> parse_data_type(std::string_view name);
// Bit length used for export-control TPP (15 CFR 774, 3A090 technical note): the operand width.
int bit_length(DataType type);
// Bytes per element when a tensor is stored in this type.
double bytes_per_element(DataType type);

struct Chip {
  std::string id;
  std::string name;
  std::string vendor;
  std::string family;  // ampere | hopper | blackwell | ascend-910 | ascend-950: selects efficiency defaults
  std::string default_node;
  Quantity launch_year;
  std::array<std::optional<Quantity>, kAllDataTypes.size()> peak_dense;  // flop/s by DataType, dense
  Quantity hbm_capacity;                     // bytes
  Quantity hbm_bandwidth;                    // bytes/s
  Quantity scaleup_bandwidth_per_direction;  // bytes/s, per chip, one direction
  Quantity scaleup_domain;                   // chips
  // Streaming multiprocessors (NVIDIA): what Transformer Engine's userbuffers overlap takes some of from the GEMMs it
  // runs beside; absent for chips without them (Ascend).
  std::optional<Quantity> sm_count;
  Quantity nic_bandwidth;                    // bytes/s per chip
  Quantity tdp;                              // W
  // W: the board power the peak rates are quoted at, where the chip is run below it (a part capped under the
  // datasheet's board power); absent: tdp.
  std::optional<Quantity> peak_power;
  Quantity die_area;                         // mm^2
  std::optional<Quantity> price;             // USD
  std::optional<Quantity> rental_price;      // USD per chip-hour

  const std::optional<Quantity>& peak(DataType type) const { return peak_dense[static_cast<std::size_t>(type)]; }
  double peak_flop_per_s(DataType type) const { return peak(type) ? peak(type)->value : 0.0; }
  // The tensor cores' sustained clock under the chip's power limit, as a fraction of the clock its peaks are quoted
  // at: (tdp / peak_power)^(1/3) below peak_power, 1 otherwise. Dynamic power goes as f V^2 and voltage follows
  // frequency on the DVFS curve, so power goes as f^3 (an estimate: it leaves out the static power, which would
  // make the slowdown larger). Compute-bound kernels run at this fraction; HBM-bound ones do not.
  double compute_clock_fraction() const;
  // flop/s a compute-bound kernel of this type sees at full efficiency: the quoted peak at the sustained clock.
  double sustained_flop_per_s(DataType type) const { return compute_clock_fraction() * peak_flop_per_s(type); }
};

enum class NodeFabric { switched, mesh, supernode };
std::string_view to_string(NodeFabric fabric);

// A scale-up domain: the chips that talk over the scale-up fabric (NVLink, HCCS, Unified Bus).
struct Node {
  std::string id;
  std::string name;
  std::string chip;
  Quantity chips;  // chips per node
  NodeFabric fabric = NodeFabric::switched;
  bool in_network_reduction = false;         // NVLink SHARP or equivalent
  Quantity scaleup_bandwidth_per_direction;  // bytes/s per chip
  Quantity scaleup_latency;                  // s, one collective step
  Quantity nics;                             // per node
  Quantity nic_bandwidth;                    // bytes/s per NIC
  // bytes/s per chip and direction between a chip and host memory (PCIe or NVLink-C2C); activation offloading needs it
  std::optional<Quantity> host_link_bandwidth_per_direction;
  // bytes/s of host DRAM per node (peak, all sockets); a CPU optimizer step (optimizer states offloaded) needs it
  std::optional<Quantity> host_memory_bandwidth;
  std::string default_fabric;                // the scale-out fabric such nodes ship with
  Quantity host_power;                       // W per node beyond the accelerators
  Quantity host_capex;                       // USD per node beyond the accelerators

  int chip_count() const { return static_cast<int>(chips.value); }
  int nic_count() const { return static_cast<int>(nics.value); }
};

// A scale-out fabric: InfiniBand or RoCE at a given port speed.
struct Fabric {
  std::string id;
  std::string name;
  Quantity port_bandwidth;  // bytes/s
  Quantity switch_radix;    // ports
  Quantity switch_latency;  // s
  Quantity nic_latency;     // s
  Quantity switch_capex_per_port;  // USD
  Quantity switch_power_per_port;  // W
};

class Catalog {
 public:
  std::string version;
  std::vector<Chip> chips;
  std::vector<Node> nodes;
  std::vector<Fabric> fabrics;

  const Chip* find_chip(std::string_view id) const;
  const Node* find_node(std::string_view id) const;
  const Fabric* find_fabric(std::string_view id) const;
  std::vector<std::string> chip_ids() const;
  std::vector<std::string> node_ids() const;
  std::vector<std::string> fabric_ids() const;
};

// The folder holding hardware/ and models/ data: $FLOPCAST_DATA_DIR if set, else the source tree's root.
std::filesystem::path data_root();

// Loads hardware/data/{chips,nodes,networks}.json under `root`. Throws InputError listing every problem, including
// cross-references (a node naming an unknown chip, a chip whose default node does not exist).
Catalog load_catalog(const std::filesystem::path& root = data_root());

}  // namespace flopcast
