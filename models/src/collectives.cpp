#include "flopcast/models/collectives.hpp"

#include <algorithm>
#include <cmath>

namespace flopcast {

double CommStep::time_s() const {
  double longest = 0;
  for (const auto& transfer : transfers) longest = std::max(longest, transfer.time_s());
  return longest;
}

double Collective::time_s() const {
  double total = 0;
  for (const auto& step : steps) total += step.time_s();
  return total;
}

double Collective::bytes(Path path) const {
  double total = 0;
  for (const auto& step : steps) {
    for (const auto& transfer : step.transfers) {
      if (transfer.path == path) total += transfer.bytes;
    }
  }
  return total;
}

Collective& Collective::then(const Collective& next) {
  for (const auto& step : next.steps) {
    // Back-to-back single transfers on the same path are one longer transfer: same time, fewer simulated events.
    if (!steps.empty() && steps.back().transfers.size() == 1 && step.transfers.size() == 1) {
      auto& last = steps.back().transfers.front();
      const auto& t = step.transfers.front();
      if (last.path == t.path && last.bytes_per_s == t.bytes_per_s) {
        last.bytes += t.bytes;
        last.latency_s += t.latency_s;
        continue;
      }
    }
    steps.push_back(step);
  }
  return *this;
}

Collective Collective::repeated(int times) const {
  Collective out;
  for (int i = 0; i < times; ++i) out.then(*this);
  return out;
}

Collective Collective::scaled(double fraction) const {
  Collective out = *this;
  for (auto& step : out.steps) {
    for (auto& transfer : step.transfers) transfer.bytes *= fraction;
  }
  return out;
}

namespace {

// One step: `bytes` of payload over `link` (bus efficiency folded into the bytes), after `latency_steps` latencies.
Collective single(double bytes, double latency_steps, const LinkClass& link) {
  Transfer transfer{link.path, bytes / link.efficiency, link.bytes_per_s, latency_steps * link.latency_s};
  return Collective{{CommStep{{transfer}}}};
}

}  // namespace

Collective ring_all_reduce(double bytes, int ranks, const LinkClass& link) {
  if (ranks <= 1 || bytes <= 0) return {};
  const double n = ranks;
  return single(2.0 * (n - 1.0) / n * bytes, 2.0 * (n - 1.0), link);
}

Collective tree_all_reduce(double bytes, int ranks, const LinkClass& link) {
  if (ranks <= 1 || bytes <= 0 || link.tree_fraction <= 0) return {};
  LinkClass tree = link;
  tree.efficiency = link.efficiency * link.tree_fraction;
  return single(2.0 * bytes, 2.0 * std::ceil(std::log2(static_cast<double>(ranks))), tree);
}

Collective all_reduce(double bytes, int ranks, const LinkClass& link) {
  if (ranks <= 1 || bytes <= 0) return {};
  if (link.in_network_reduction) return single(bytes, 2.0, link);
  Collective ring = ring_all_reduce(bytes, ranks, link);
  if (link.tree_fraction <= 0) return ring;
  Collective tree = tree_all_reduce(bytes, ranks, link);
  return tree.time_s() < ring.time_s() ? tree : ring;
}

Collective all_gather(double bytes, int ranks, const LinkClass& link) {
  if (ranks <= 1 || bytes <= 0) return {};
  const double n = ranks;
  return single((n - 1.0) / n * bytes, n - 1.0, link);
}

Collective reduce_scatter(double bytes, int ranks, const LinkClass& link) { return all_gather(bytes, ranks, link); }

Collective point_to_point(double bytes, const LinkClass& link) {
  if (bytes <= 0) return {};
  return single(bytes, 1.0, link);
}

Collective concurrent(const Collective& a, const Collective& b) {
  CommStep step;
  for (const auto* part : {&a, &b}) {
    for (const auto& s : part->steps) step.transfers.insert(step.transfers.end(), s.transfers.begin(), s.transfers.end());
  }
  if (step.transfers.empty()) return {};
  return Collective{{step}};
}

double all_reduce_s(double bytes, int ranks, const LinkClass& link) { return all_reduce(bytes, ranks, link).time_s(); }
double all_gather_s(double bytes, int ranks, const LinkClass& link) { return all_gather(bytes, ranks, link).time_s(); }
double reduce_scatter_s(double bytes, int ranks, const LinkClass& link) {
  return reduce_scatter(bytes, ranks, link).time_s();
}
double point_to_point_s(double bytes, const LinkClass& link) { return point_to_point(bytes, link).time_s(); }

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

Collective group_all_reduce(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                            const LinkClass& outside) {
  const auto shape = group_shape(ranks, stride, node_chips);
  if (shape.outside == 1) return all_reduce(bytes, shape.inside, inside);
  if (shape.inside == 1) return all_reduce(bytes, shape.outside, outside);
  return reduce_scatter(bytes, shape.inside, inside)
      .then(all_reduce(bytes / shape.inside, shape.outside, outside))
      .then(all_gather(bytes, shape.inside, inside));
}

Collective group_all_gather(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                            const LinkClass& outside) {
  const auto shape = group_shape(ranks, stride, node_chips);
  if (shape.outside == 1) return all_gather(bytes, shape.inside, inside);
  if (shape.inside == 1) return all_gather(bytes, shape.outside, outside);
  // Across nodes on the node's share, then inside the node on the whole buffer.
  return all_gather(bytes / shape.inside, shape.outside, outside).then(all_gather(bytes, shape.inside, inside));
}

double group_all_reduce_s(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                          const LinkClass& outside) {
  return group_all_reduce(bytes, ranks, stride, node_chips, inside, outside).time_s();
}
double group_all_gather_s(double bytes, int ranks, int stride, int node_chips, const LinkClass& inside,
                          const LinkClass& outside) {
  return group_all_gather(bytes, ranks, stride, node_chips, inside, outside).time_s();
}

}  // namespace flopcast
