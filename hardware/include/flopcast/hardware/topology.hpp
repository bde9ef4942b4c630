#pragma once
// Scale-out topologies as Boost.Graph graphs. Vertices are scale-up domains (nodes) and switches; an edge's
// capacity is the bandwidth of the cables it stands for (parallel cables are merged). From the graph come the
// number of switches and cables, the worst-case switch hops between two nodes (breadth-first search), and the
// bisection bandwidth (maximum flow from one half of the nodes to the other, push-relabel).
//
// Kinds (radix k, leaf oversubscription o = down ports / up ports):
//   fat-tree-2     rail-optimized two-tier folded Clos: NIC r of every node goes to a leaf of rail r; leaves to
//                  spines. At most k * k*o/(1+o) NICs (k^2/2 = 2048 for k = 64 at o = 1).
//   fat-tree-3     rail-optimized three-tier: leaves and aggregation switches in pods, pods to core switches.
//                  At most k/2 * down * k NICs (k^3/4 at o = 1).
//   multi-plane-2  one independent two-tier fat-tree per NIC rail (DeepSeek's MPFT): each plane connects NIC r of
//                  every node, so nodes <= k * down; traffic between planes crosses the scale-up fabric.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flopcast {

enum class TopologyKind { fat_tree_2, fat_tree_3, multi_plane_2 };

std::string_view to_string(TopologyKind kind);
std::optional<TopologyKind> parse_topology(std::string_view name);
const std::vector<std::string>& topology_names();

struct TopologySpec {
  TopologyKind kind = TopologyKind::fat_tree_2;
  int nodes = 1;                  // scale-up domains
  int nics_per_node = 8;
  double nic_bytes_per_s = 50e9;  // per NIC and per switch port
  int switch_radix = 64;
  double oversubscription = 1.0;  // leaf down:up ratio, >= 1
};

struct TopologySummary {
  int tiers = 0;
  int planes = 1;
  int switches = 0;
  long cables = 0;                // switch-to-switch and NIC-to-switch cables
  int max_switch_hops = 0;        // worst case between two nodes, switches traversed
  double injection_bytes_per_s = 0;   // all NICs together
  double bisection_bytes_per_s = 0;   // max flow from the first half of the nodes to the second
  double bisection_ratio = 1.0;       // bisection / (injection / 2): 1 is full bisection
};

// Leaf ports facing NICs at this oversubscription (the rest face the next tier).
int leaf_down_ports(int switch_radix, double oversubscription);

// Largest number of NICs (fat-tree-2, fat-tree-3) or nodes (multi-plane-2) the kind can connect.
long max_endpoints(TopologyKind kind, int switch_radix, double oversubscription);

// Why the cluster does not fit the topology (e.g. too many NICs for two tiers), or nothing when it fits.
std::optional<std::string> topology_capacity_problem(const TopologySpec& spec);

// Builds the graph and measures it. Throws ModelError when the cluster does not fit the topology.
TopologySummary build_topology(const TopologySpec& spec);

}  // namespace flopcast
