#pragma once
// Alpha-beta collective times. A link class is one kind of path (scale-up fabric, or scale-out NIC), described by
// its per-chip bandwidth in one direction, a per-step latency, and the bus efficiency collectives reach on it.
//
// Ring all-reduce of B bytes over n ranks: 2 (n-1)/n * B / (bw * eff) + 2 (n-1) * latency.
// Ring all-gather / reduce-scatter (B = the full, gathered buffer): (n-1)/n * B / (bw * eff) + (n-1) * latency.
// In-network reduction (NVLink SHARP): each rank sends and receives its buffer once: B / (bw * eff) + 2 latency.

namespace flopcast {

struct LinkClass {
  double bytes_per_s = 0;  // per chip, one direction
  double latency_s = 0;    // per algorithm step
  double efficiency = 1;   // achieved bus bandwidth / bytes_per_s
  bool in_network_reduction = false;
};

double all_reduce_s(double bytes, int ranks, const LinkClass& link);
double all_gather_s(double bytes, int ranks, const LinkClass& link);
double reduce_scatter_s(double bytes, int ranks, const LinkClass& link);
double point_to_point_s(double bytes, const LinkClass& link);

// A group of `ranks` chips whose consecutive members are `stride` chips apart, on nodes of `node_chips`:
// the members that share a node talk over `inside`, the rest over `outside`. Hierarchical algorithms: reduce-scatter
// inside the node, the operation across nodes on the node's shard, all-gather inside.
struct GroupShape {
  int inside = 1;   // members per node
  int outside = 1;  // nodes the group spans
};
GroupShape group_shape(int ranks, int stride, int node_chips);

double group_all_reduce_s(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                          const LinkClass& outside);
double group_all_gather_s(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                          const LinkClass& outside);  // also the reduce-scatter time

}  // namespace flopcast
