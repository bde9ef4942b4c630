#pragma once
// Collectives as alpha-beta transfer steps. A link class is one kind of path (scale-up fabric, or scale-out NIC),
// described by its per-chip bandwidth in one direction, a per-step latency, and the bus efficiency collectives reach
// on it.
//
// Ring all-reduce of B bytes over n ranks: 2 (n-1)/n * B / (bw * eff) + 2 (n-1) * latency.
// Ring all-gather / reduce-scatter (B = the full, gathered buffer): (n-1)/n * B / (bw * eff) + (n-1) * latency.
// In-network reduction (NVLink SHARP): each rank sends and receives its buffer once: B / (bw * eff) + 2 latency.
// Double binary tree all-reduce (NCCL, across nodes): 2 B / (bw * eff * tree_fraction) + 2 ceil(log2 n) * latency;
// each rank is interior in one tree and a leaf in the other, each tree carries half the data. Where a link class
// offers trees, all_reduce takes whichever of ring and tree is faster for the size, as NCCL's tuner does: trees win
// on small buffers over many nodes, where the ring's 2 (n-1) latencies dominate.
//
// A collective is kept as the transfers one chip makes, step after step, so that the analytical tier can add their
// times and the discrete-event tiers can turn each into a flow on the chip's links (where concurrent traffic slows it
// down through bandwidth sharing). Bus efficiency is folded into the bytes: a transfer of B / eff bytes at the raw
// link rate takes as long as B bytes at the achieved bus bandwidth.

#include <vector>

#include <boost/container/small_vector.hpp>

namespace flopcast {

enum class Path { scaleup, scaleout };

struct LinkClass {
  double bytes_per_s = 0;  // per chip, one direction
  double latency_s = 0;    // per algorithm step
  double efficiency = 1;   // achieved bus bandwidth / bytes_per_s
  bool in_network_reduction = false;
  Path path = Path::scaleup;
  double tree_fraction = 0;  // tree bus bandwidth / ring bus bandwidth; 0: no tree algorithm on this link class
};

// One chip's transfer on one path: `bytes` at the raw `bytes_per_s`, after `latency_s`.
struct Transfer {
  Path path = Path::scaleup;
  double bytes = 0;
  double bytes_per_s = 1;
  double latency_s = 0;
  double time_s() const { return latency_s + bytes / bytes_per_s; }
};

// Transfers that run at the same time (e.g. the NVLink and the NIC halves of an all-to-all). Held inline: the plan
// search builds a step's collectives for every candidate, and heap storage made allocation a third of its time.
struct CommStep {
  boost::container::small_vector<Transfer, 2> transfers;
  double time_s() const;
};

// Steps that run one after another.
struct Collective {
  boost::container::small_vector<CommStep, 3> steps;  // a hierarchical collective has three
  bool empty() const { return steps.empty(); }
  double time_s() const;
  double bytes(Path path) const;
  Collective& then(const Collective& next);
  Collective repeated(int times) const;
  // The same steps carrying `fraction` of the bytes (a bucket of a larger collective); latencies unchanged.
  Collective scaled(double fraction) const;
};

Collective all_reduce(double bytes, int ranks, const LinkClass& link);  // the faster of ring and tree
Collective ring_all_reduce(double bytes, int ranks, const LinkClass& link);
Collective tree_all_reduce(double bytes, int ranks, const LinkClass& link);
Collective all_gather(double bytes, int ranks, const LinkClass& link);
Collective reduce_scatter(double bytes, int ranks, const LinkClass& link);
Collective point_to_point(double bytes, const LinkClass& link);
// Both transfers at once (a two-level all-to-all).
Collective concurrent(const Collective& a, const Collective& b);

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

Collective group_all_reduce(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                            const LinkClass& outside);
Collective group_all_gather(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                            const LinkClass& outside);  // also the reduce-scatter
double group_all_reduce_s(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                          const LinkClass& outside);
double group_all_gather_s(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                          const LinkClass& outside);

}  // namespace flopcast
