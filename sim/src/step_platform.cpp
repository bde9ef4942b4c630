// The step simulation's platform (step_simulation.hpp): one host per device (tier 2) or chip (tier 3), the links of
// its scale-up and scale-out paths, and the routes between them.

#include "step_simulation.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine.hpp"
#include "flopcast/core/errors.hpp"

namespace flopcast::sim_detail {

int StepSimulation::add_link(const std::string& name, double bytes_per_s) {
  auto* link = zone_->create_link(name, bytes_per_s)->set_latency(0)->seal();
  links_.push_back(link);
  loads_.push_back({name, bytes_per_s, 0, 0});
  flows_on_.push_back(0);
  held_by_.push_back(nullptr);
  return static_cast<int>(links_.size()) - 1;
}

void StepSimulation::add_route(sg4::Host* from, sg4::Host* to, const std::vector<int>& links) {
  if (!routed_.insert({from, to}).second) return;
  std::vector<sg4::LinkInRoute> route;
  for (int id : links) route.emplace_back(links_[id]);
  zone_->add_route(from->get_netpoint(), to->get_netpoint(), nullptr, nullptr, route, false);
}

Straggler StepSimulation::straggler(int index) const {
  Straggler total{index, 1.0, 1.0};
  for (const auto& s : in_.options.stragglers) {
    if (s.device != index) continue;
    total.compute_factor *= s.compute_factor;
    total.link_factor *= s.link_factor;
  }
  return total;
}

void StepSimulation::build_platform() {
  zone_ = sg4::create_full_zone("cluster");
  full_ = in_.options.tier == Tier::full;
  per_stage_ = full_ ? plan_.tp * plan_.cp * plan_.dp : 1;
  const int count = plan_.pp * per_stage_;
  devices_.resize(count);
  for (int g = 0; g < count; ++g) {
    auto& d = devices_[g];
    d.index = g;
    d.stage = g / per_stage_;
    d.slot = g % per_stage_;
    d.work = &of_device(in_.works, d.stage);
    d.compute_factor = straggler(g).compute_factor;
    d.traced = d.slot == 0;
    d.host = zone_->create_host(full_ ? fmt::format("chip{}", g) : fmt::format("stage{}", g), kSpeed / d.compute_factor);
    d.activity.name = full_ ? fmt::format("chip {} (stage {})", g, d.stage) : fmt::format("stage {}", g);
  }
  if (full_) {
    build_full();
  } else {
    build_replica();
  }
  zone_->seal();
  for (auto& d : devices_) {
    d.channel.resize(sched_.stages.size());
    for (auto& c : d.channel) c = {sg4::Semaphore::create(0), sg4::Semaphore::create(0)};
    d.backwards_done.assign(sched_.stages.size(), 0);
    for (const auto& vs : sched_.stages) {
      if (vs.device == d.stage) {
        const auto& layout = d.work->chunks[vs.layout];
        d.layers += layout.layers() + layout.mtp_modules;
      }
    }
  }
}

void StepSimulation::build_replica() {
  const bool shared = in_.options.contention;
  for (auto& d : devices_) {
    const double slow = straggler(d.index).link_factor;
    std::array<std::array<int, kKinds>, kPaths> link_of{};
    for (int p = 0; p < kPaths; ++p) {
      const auto& lc = p == 0 ? d.work->scaleup : d.work->scaleout;
      for (int k = 0; k < kKinds; ++k) {
        if (shared && k > 0) {
          link_of[p][k] = link_of[p][0];
          continue;
        }
        const std::string suffix = shared ? "" : std::string(".") + kKindNames[k];
        link_of[p][k] = add_link(fmt::format("stage{}.{}{}", d.index, p == 0 ? "nvlink" : "nic", suffix),
                                 lc.bytes_per_s / slow);
      }
      for (int k = 0; k < kKinds; ++k) {
        if (shared && k > 0) {
          d.ring[k][p] = d.ring[0][p];
          continue;
        }
        auto* peer = zone_->create_host(fmt::format("stage{}.{}.{}.peer", d.index, p, k), kSpeed);
        d.ring[k][p] = Route{peer, {link_of[p][k]}};
        add_route(d.host, peer, d.ring[k][p].links);
      }
    }
    const int pp_path = pipeline_path();
    for (int target : neighbour_devices(d.stage)) {
      Route route{devices_[target].host, {link_of[pp_path][kPp]}};
      add_route(d.host, route.destination, route.links);
      d.pipeline[target] = route;
    }
  }
}

int StepSimulation::pipeline_path() const {
  for (const auto& d : devices_) {
    for (const auto& step : d.work->pp_hop.steps) {
      for (const auto& t : step.transfers) return path_index(t.path);
    }
  }
  return 1;
}

std::vector<int> StepSimulation::neighbour_devices(int stage) const {
  std::vector<int> out;
  for (const auto& vs : sched_.stages) {
    if (vs.device != stage) continue;
    for (int other : {vs.next, vs.prev}) {
      if (other >= 0 && sched_.stages[other].device != stage) out.push_back(sched_.stages[other].device);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void StepSimulation::build_full() {
  const auto& job = in_.job;
  const int node_chips = std::max(1, in_.works[0].node_chips);
  const int nodes = (static_cast<int>(devices_.size()) + node_chips - 1) / node_chips;
  const int nics = std::max(1, job.cluster.nics_per_node);
  const double port = std::min(job.cluster.node.nic_bandwidth.value, job.cluster.fabric.port_bandwidth.value);
  // A mixed fleet's stages sit on their own chips' nodes, with those nodes' NICs (on the cluster's rails).
  std::vector<double> nic_per_chip;
  for (int stage = 0; stage < plan_.pp; ++stage) {
    const auto setup = job.cluster.for_stage(stage);
    nic_per_chip.push_back(setup.nics_per_node * std::min(setup.node.nic_bandwidth.value, port) / node_chips);
  }
  const int radix = static_cast<int>(job.cluster.fabric.switch_radix.value);
  const int down = leaf_down_ports(radix, job.cluster.oversubscription);
  const int up = radix - down;
  const bool planes = job.cluster.topology == TopologyKind::multi_plane_2;
  const int leaves_per_plane = (nodes + down - 1) / down;
  const int leaves = planes ? leaves_per_plane * nics : (nodes * nics + down - 1) / down;
  const auto leaf_of = [&](int nic, int node) {
    return planes ? nic * leaves_per_plane + node / down : (nic * nodes + node) / down;
  };
  // Three tiers: radix / 2 leaves per pod, under aggregation switches whose core uplinks match the leaves' uplinks.
  const int leaves_per_pod = job.cluster.topology == TopologyKind::fat_tree_3 ? std::max(1, radix / 2) : leaves;
  const int pods = (leaves + leaves_per_pod - 1) / leaves_per_pod;
  std::vector<int> leaf_up, leaf_down, pod_up, pod_down;
  for (int l = 0; l < leaves; ++l) {
    leaf_up.push_back(add_link(fmt::format("leaf{}.up", l), up * port));
    leaf_down.push_back(add_link(fmt::format("leaf{}.down", l), up * port));
  }
  for (int p = 0; pods > 1 && p < pods; ++p) {
    const int members = std::min(leaves, (p + 1) * leaves_per_pod) - p * leaves_per_pod;
    pod_up.push_back(add_link(fmt::format("pod{}.up", p), members * up * port));
    pod_down.push_back(add_link(fmt::format("pod{}.down", p), members * up * port));
  }
  struct Ports {
    int up_out, up_in, nic_out, nic_in, node, nic, leaf;
  };
  std::vector<Ports> ports;
  for (auto& d : devices_) {
    const double slow = straggler(d.index).link_factor;
    const double scaleup = d.work->scaleup.bytes_per_s / slow;
    const int node = d.index / node_chips;
    const int nic = (d.index % node_chips) * nics / node_chips;
    ports.push_back({add_link(fmt::format("chip{}.nvlink.out", d.index), scaleup),
                     add_link(fmt::format("chip{}.nvlink.in", d.index), scaleup),
                     add_link(fmt::format("chip{}.nic.out", d.index), nic_per_chip[d.stage] / slow),
                     add_link(fmt::format("chip{}.nic.in", d.index), nic_per_chip[d.stage] / slow), node, nic,
                     leaf_of(nic, node)});
  }
  const auto route = [&](int g, int h) {
    const auto& a = ports[g];
    const auto& b = ports[h];
    Route r{devices_[h].host, {}};
    if (a.node == b.node) {
      r.links = {a.up_out, b.up_in};
    } else {
      // Between planes: over the scale-up fabric to the node's chip on the destination's rail, then its NIC.
      const Ports* from = &a;
      if (planes && a.nic != b.nic) {
        const int mate = a.node * node_chips + (b.nic * node_chips + nics - 1) / nics;
        from = &ports[std::min<std::size_t>(mate, ports.size() - 1)];
        r.links = {a.up_out, from->up_in};
      }
      r.links.push_back(from->nic_out);
      if (from->leaf != b.leaf) {
        const int pa = from->leaf / leaves_per_pod;
        const int pb = b.leaf / leaves_per_pod;
        r.links.push_back(leaf_up[from->leaf]);
        if (pa != pb) r.links.insert(r.links.end(), {pod_up[pa], pod_down[pb]});
        r.links.push_back(leaf_down[b.leaf]);
      }
      r.links.push_back(b.nic_in);
    }
    add_route(devices_[g].host, devices_[h].host, r.links);
    return r;
  };
  // Groups inside a stage, by slot q = (dp_index x cp + cp_index) x tp + tp_index.
  const int tp = plan_.tp, cp = plan_.cp, dp = plan_.dp, ep = std::max(1, plan_.ep), etp = std::max(1, plan_.etp);
  const auto members = [&](int kind, int q) {
    std::vector<int> out;
    int base = 0, stride = 1, size = 1;
    switch (kind) {
      case kTp: base = q - q % tp, stride = 1, size = tp; break;
      case kCp: base = q - (q / tp % cp) * tp, stride = tp, size = cp; break;
      // Expert tensor parallelism interleaves: an EP group takes one rank of each etp group.
      case kEp: base = q - q % (ep * etp) + q % etp, stride = etp, size = std::min(ep, per_stage_ / etp); break;
      case kDp: base = q % (tp * cp), stride = tp * cp, size = dp; break;
      default: break;
    }
    for (int i = 0; i < size; ++i) out.push_back(base + i * stride);
    return out;
  };
  std::map<std::pair<int, std::vector<int>>, sg4::BarrierPtr> barriers;
  for (auto& d : devices_) {
    const int first = d.stage * per_stage_;
    for (int k : {kTp, kCp, kEp, kDp}) {
      std::vector<int> group;
      for (int q : members(k, d.slot)) group.push_back(first + q);
      const int self = static_cast<int>(std::find(group.begin(), group.end(), d.index) - group.begin());
      const int n = static_cast<int>(group.size());
      auto& bar = barriers[{k, group}];
      if (!bar) bar = sg4::Barrier::create(n);
      d.barrier[k] = bar;
      if (n < 2) continue;
      // Scale-up: the next member on this node; scale-out: the next member on another node, in the same slot of
      // its node if there is one.
      int up_partner = -1, out_partner = -1, out_any = -1;
      for (int step = 1; step < n; ++step) {
        const int h = group[(self + step) % n];
        if (ports[h].node == ports[d.index].node) {
          if (up_partner < 0) up_partner = h;
        } else {
          if (out_any < 0) out_any = h;
          if (out_partner < 0 && h % node_chips == d.index % node_chips) out_partner = h;
        }
      }
      if (out_partner < 0) out_partner = out_any;
      const int fallback = group[(self + 1) % n];
      d.ring[k][0] = route(d.index, up_partner >= 0 ? up_partner : fallback);
      d.ring[k][1] = route(d.index, out_partner >= 0 ? out_partner : fallback);
    }
    for (int target : neighbour_devices(d.stage)) {
      d.pipeline[target] = route(d.index, target * per_stage_ + d.slot);
    }
  }
}

}  // namespace flopcast::sim_detail
