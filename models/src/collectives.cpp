#include "flopcast/models/collectives.hpp"

#include <algorithm>

namespace flopcast {

double all_reduce_s(double bytes, int ranks, const LinkClass& link) {
  if (ranks <= 1 || bytes <= 0) return 0.0;
  const double rate = link.bytes_per_s * link.efficiency;
  if (link.in_network_reduction) return bytes / rate + 2.0 * link.latency_s;
  const double n = ranks;
  return 2.0 * (n - 1.0) / n * bytes / rate + 2.0 * (n - 1.0) * link.latency_s;
}

double all_gather_s(double bytes, int ranks, const LinkClass& link) {
  if (ranks <= 1 || bytes <= 0) return 0.0;
  const double n = ranks;
  return (n - 1.0) / n * bytes / (link.bytes_per_s * link.efficiency) + (n - 1.0) * link.latency_s;
}

double reduce_scatter_s(double bytes, int ranks, const LinkClass& link) { return all_gather_s(bytes, ranks, link); }

double point_to_point_s(double bytes, const LinkClass& link) {
  if (bytes <= 0) return 0.0;
  return bytes / (link.bytes_per_s * link.efficiency) + link.latency_s;
}

GroupShape group_shape(int ranks, int stride, int node_chips) {
  GroupShape shape;
  if (stride >= node_chips) {
    shape.inside = 1;
  } else {
    shape.inside = std::clamp(node_chips / std::max(stride, 1), 1, ranks);
  }
  shape.outside = std::max(1, ranks / shape.inside);
  return shape;
}

double group_all_reduce_s(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                          const LinkClass& outside) {
  const auto shape = group_shape(ranks, stride, node_chips);
  if (shape.outside == 1) return all_reduce_s(bytes, shape.inside, inside);
  if (shape.inside == 1) return all_reduce_s(bytes, shape.outside, outside);
  return reduce_scatter_s(bytes, shape.inside, inside) + all_reduce_s(bytes / shape.inside, shape.outside, outside) +
         all_gather_s(bytes, shape.inside, inside);
}

double group_all_gather_s(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                          const LinkClass& outside) {
  const auto shape = group_shape(ranks, stride, node_chips);
  if (shape.outside == 1) return all_gather_s(bytes, shape.inside, inside);
  if (shape.inside == 1) return all_gather_s(bytes, shape.outside, outside);
  // Across nodes on the node's share, then inside the node on the whole buffer.
  return all_gather_s(bytes / shape.inside, shape.outside, outside) + all_gather_s(bytes, shape.inside, inside);
}

}  // namespace flopcast
