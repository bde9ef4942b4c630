#include "flopcast/scenarios/serving_scenario.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/text.hpp"

namespace flopcast {
namespace fs = std::filesystem;

const std::vector<std::string>& serving_published_metrics() {
  static const std::vector<std::string> kMetrics{"input_tokens_per_s_per_node", "output_tokens_per_s_per_node",
                                                 "input_tokens_per_s_per_chip", "output_tokens_per_s_per_chip",
                                                 "usd_per_m_output"};
  return kMetrics;
}

double serving_metric(const ServingResult& r, const std::string& metric) {
  if (metric == "input_tokens_per_s_per_node") return r.input_tokens_per_s_per_node;
  if (metric == "output_tokens_per_s_per_node") return r.output_tokens_per_s_per_node;
  if (metric == "input_tokens_per_s_per_chip") return r.input_tokens_per_s_per_chip;
  if (metric == "output_tokens_per_s_per_chip") return r.output_tokens_per_s_per_chip;
  if (metric == "usd_per_m_output") return r.usd_per_m_output;
  return 0.0;
}

namespace {

constexpr IntegerBounds kCount{.min = 1, .max = 1 << 30};

ServingPlan read_plan(JsonReader& parent, bool& given) {
  ServingPlan plan;
  auto p = parent.object("plan", Need::required);
  given = p.has_value();
  if (!p) return plan;
  plan.tp = static_cast<int>(p->integer("tp", Need::optional, kCount).value_or(1));
  plan.pp = static_cast<int>(p->integer("pp", Need::optional, kCount).value_or(1));
  plan.dp_attention = static_cast<int>(p->integer("dp_attention", Need::optional, kCount).value_or(1));
  plan.ep = static_cast<int>(p->integer("ep", Need::optional, kCount).value_or(1));
  p->finish();
  return plan;
}

Batching read_batching(JsonReader& parent) {
  Batching b;
  auto r = parent.object("batching", Need::optional);
  if (!r) return b;
  b.max_batch_tokens = r->integer("max_batch_tokens", Need::optional, {.min = 1, .max = 1 << 24}).value_or(b.max_batch_tokens);
  b.max_running = static_cast<int>(r->integer("max_running", Need::optional, {.min = 1, .max = 1 << 20}).value_or(b.max_running));
  const auto chunk = r->integer("prefill_chunk_tokens", Need::optional, {.min = 1, .max = 1 << 24});
  b.prefill_chunk_tokens = chunk.value_or(b.max_batch_tokens);
  b.chunked_prefill = r->boolean("chunked_prefill", Need::optional).value_or(true);
  if (chunk && !b.chunked_prefill) {
    r->problem("prefill_chunk_tokens", "a chunk size needs chunked_prefill true (without chunking a prompt prefills "
                                       "whole in one step)");
  }
  b.reserve_output = r->boolean("reserve_output", Need::optional).value_or(false);
  if (const auto* sizes = r->raw("graph_batch_sizes", Need::optional)) {
    if (!sizes->is_array()) {
      r->problem("graph_batch_sizes", fmt::format("expected an array of batch sizes in ascending order, got {}",
                                                  describe_json(*sizes)));
    } else {
      for (std::size_t i = 0; i < sizes->size(); ++i) {
        const auto& size = (*sizes)[i];
        const bool whole =
            size.is_number_integer() && size.get<std::int64_t>() >= 1 && size.get<std::int64_t>() <= (1 << 20);
        if (!whole) {
          r->problem_at("graph_batch_sizes", i, fmt::format("expected a whole number of sequences from 1 to {}, got {}",
                                                            1 << 20, describe_json(size)));
          continue;
        }
        const int n = size.get<int>();
        if (!b.graph_batch_sizes.empty() && n <= b.graph_batch_sizes.back()) {
          r->problem_at("graph_batch_sizes", i, fmt::format("expected sizes in ascending order, got {} after {}", n,
                                                            b.graph_batch_sizes.back()));
          continue;
        }
        b.graph_batch_sizes.push_back(n);
      }
    }
  }
  r->finish();
  return b;
}

void check_pool(JsonReader& at, const std::string& key, const ServingPool& pool, const ModelArch& model,
                const ClusterSetup& cluster) {
  for (const auto& message : serving_plan_problems(model, pool, cluster.node.chip_count())) at.problem(key, message);
}

// A serving workload's bounds: each request is simulated, and its state kept, for the whole run (100 million requests
// at a billion per second took 9.7 GB). A trace of a million requests is about 20 MB of text.
constexpr long kMaxRequests = 1'000'000;
constexpr std::size_t kMaxTraceBytes = std::size_t{64} << 20;

// arrival_s,input_tokens,output_tokens per line after a header; arrivals in order.
std::vector<TraceRequest> read_trace(JsonReader& w, const std::string& path, const fs::path& base_dir) {
  const fs::path full = fs::path(path).is_absolute() ? fs::path(path) : base_dir / path;
  std::vector<TraceRequest> out;
  std::string text;
  try {
    text = read_text_file(full, kMaxTraceBytes);  // a regular file of at most 64 MiB
  } catch (const InputError& error) {
    for (const auto& problem : error.problems()) w.problem("trace", fmt::format("trace file {}", to_string(problem)));
    return out;
  }
  std::istringstream in(text);
  std::string line;
  long number = 0;
  while (std::getline(in, line)) {
    if (static_cast<long>(out.size()) >= kMaxRequests) {
      w.problem("trace", fmt::format("{} holds more than {} requests, the most one run simulates", full.string(),
                                     kMaxRequests));
      return {};
    }
    ++number;
    if (number == 1 || line.empty() || line[0] == '#') continue;
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream fields(line);
    TraceRequest t;
    std::string rest;
    if (!(fields >> t.arrival_s >> t.input_tokens >> t.output_tokens) || (fields >> rest) || t.arrival_s < 0 ||
        t.input_tokens < 1 || t.output_tokens < 1 || (!out.empty() && t.arrival_s < out.back().arrival_s)) {
      w.problem("trace", fmt::format("{} line {}: expected \"arrival_s,input_tokens,output_tokens\" with arrival_s >= 0 "
                                     "and not before the line above, and token counts >= 1",
                                     full.string(), number));
      return {};
    }
    out.push_back(t);
  }
  if (out.empty()) w.problem("trace", fmt::format("{} holds no requests", full.string()));
  return out;
}

Workload read_workload(JsonReader& s, const fs::path& base_dir) {
  Workload out;
  auto w = s.object("workload", Need::required);
  if (!w) return out;
  static const std::vector<std::string> kArrivals{"poisson", "concurrency", "trace", "offline"};
  const auto arrival = w->choice("arrival", Need::optional, kArrivals).value_or("poisson");
  out.arrival = arrival == "trace"         ? ArrivalKind::trace
                : arrival == "concurrency" ? ArrivalKind::concurrency
                : arrival == "offline"     ? ArrivalKind::offline
                                           : ArrivalKind::poisson;
  const Need poisson = out.arrival == ArrivalKind::poisson ? Need::required : Need::optional;
  const Need closed = out.arrival == ArrivalKind::concurrency ? Need::required : Need::optional;
  const Need generated = out.arrival == ArrivalKind::trace ? Need::optional : Need::required;
  out.rate_per_s = w->number("rate_per_s", poisson, {.min = 0, .max = 1e9, .min_exclusive = true}).value_or(1.0);
  out.concurrency = static_cast<int>(w->integer("concurrency", closed, {.min = 1, .max = 1 << 24}).value_or(1));
  if (out.arrival == ArrivalKind::offline && w->has("concurrency")) {
    w->problem("concurrency", "is read only with \"arrival\": \"concurrency\"; offline queues every request at once");
  }
  out.requests = w->integer("requests", Need::optional, {.min = 1, .max = kMaxRequests}).value_or(1000);
  if (out.arrival == ArrivalKind::offline) out.concurrency = static_cast<int>(out.requests);
  out.input_tokens = w->number("input_tokens", generated, {.min = 1, .max = 1e7}).value_or(1000);
  out.output_tokens = w->number("output_tokens", generated, {.min = 1, .max = 1e7}).value_or(200);
  static const std::vector<std::string> kLengths{"fixed", "exponential"};
  out.lengths = w->choice("lengths", Need::optional, kLengths).value_or("fixed") == "exponential"
                    ? LengthDistribution::exponential
                    : LengthDistribution::fixed;
  out.seed = static_cast<std::uint64_t>(w->integer("seed", Need::optional, {.min = 0}).value_or(1));
  static const std::vector<std::string> kTokens{"text", "synthetic"};
  out.synthetic_tokens = w->choice("tokens", Need::optional, kTokens).value_or("text") == "synthetic";
  const auto trace = w->string("trace", out.arrival == ArrivalKind::trace ? Need::required : Need::optional);
  if (trace && out.arrival != ArrivalKind::trace) w->problem("trace", "is read only with \"arrival\": \"trace\"");
  if (trace && out.arrival == ArrivalKind::trace) {
    out.trace = read_trace(*w, *trace, base_dir);
    out.requests = static_cast<long>(out.trace.size());
  }
  w->finish();
  return out;
}

}  // namespace

ServingSection read_serving_section(JsonReader& s, const ModelArch& model, const ClusterSetup& cluster,
                                    const fs::path& base_dir) {
  ServingSection out;
  auto& setup = out.setup;
  // 8-bit weights need the chip's 8-bit units; 4-bit ones run weight-only where it has no FP4 units.
  static const std::vector<std::string> kWeights{"bf16", "fp8", "int8", "nvfp4", "mxfp4"};
  const auto read_weights = [&](const std::string& key, const std::string& fallback) {
    const auto name = s.choice(key, Need::optional, kWeights).value_or(fallback);
    const DataType type = *parse_data_type(name);
    if (!cluster.chip.id.empty() && bit_length(type) == 8 && !cluster.chip.peak(type)) {
      s.problem(key, fmt::format("{} has no {} units; use one of its precisions", cluster.chip.id, name));
    }
    return type;
  };
  setup.weight_type = read_weights("weights", "bf16");
  setup.expert_weight_type = read_weights("expert_weights", std::string(to_string(setup.weight_type)));
  if (s.has("expert_weights") && !model.is_moe()) s.problem("expert_weights", fmt::format("{} has no experts", model.name));
  static const std::vector<std::string> kKv{"bf16", "fp8"};
  setup.kv_type = s.choice("kv_cache", Need::optional, kKv).value_or("bf16") == "fp8" ? DataType::fp8 : DataType::bf16;

  if (s.has("disaggregation")) {
    if (s.has("plan")) s.problem("plan", "give either a plan (one pool) or disaggregation (prefill and decode pools)");
    if (s.has("batching")) s.problem("batching", "goes inside each pool of disaggregation");
    s.allow("plan");
    s.allow("batching");
    if (auto d = s.object("disaggregation", Need::required)) {
      int chips = 0;
      for (const auto& [key, role] : {std::pair{"prefill", PoolRole::prefill}, std::pair{"decode", PoolRole::decode}}) {
        auto p = d->object(key, Need::required);
        if (!p) continue;
        ServingPool pool;
        pool.role = role;
        pool.chips = static_cast<int>(p->integer("chips", Need::required, kCount).value_or(1));
        bool given = false;
        pool.plan = read_plan(*p, given);
        pool.batching = read_batching(*p);
        p->finish();
        if (given) check_pool(*d, key, pool, model, cluster);
        chips += pool.chips;
        setup.pools.push_back(pool);
      }
      if (setup.pools.size() == 2 && chips != cluster.chips) {
        d->problem_here(fmt::format("the pools hold {} + {} = {} chips, but /cluster/chips is {}",
                                    setup.pools[0].chips, setup.pools[1].chips, chips, cluster.chips));
      }
      d->finish();
    }
  } else {
    ServingPool pool;
    pool.chips = cluster.chips;
    bool given = false;
    pool.plan = read_plan(s, given);
    pool.batching = read_batching(s);
    if (given) check_pool(s, "plan", pool, model, cluster);
    setup.pools.push_back(pool);
  }

  setup.workload = read_workload(s, base_dir);
  if (auto slo = s.object("slo", Need::optional)) {
    setup.slo.ttft_s = slo->number("ttft_s", Need::optional, {.min = 0, .max = 1e6, .min_exclusive = true}).value_or(setup.slo.ttft_s);
    setup.slo.tpot_s = slo->number("tpot_s", Need::optional, {.min = 0, .max = 1e6, .min_exclusive = true}).value_or(setup.slo.tpot_s);
    slo->finish();
  }
  if (auto mtp = s.object("mtp", Need::optional)) {
    setup.mtp.draft_tokens = static_cast<int>(mtp->integer("draft_tokens", Need::required, {.min = 0, .max = 8}).value_or(0));
    setup.mtp.acceptance_rate = mtp->number("acceptance_rate", Need::required, {.min = 0, .max = 1}).value_or(0);
    if (setup.mtp.draft_tokens > 0 && model.mtp_modules == 0) {
      mtp->problem("draft_tokens", fmt::format("{} has no multi-token-prediction modules to draft with", model.name));
    }
    mtp->finish();
  }
  setup.prefix_cache_hit_rate = s.number("prefix_cache_hit_rate", Need::optional, {.min = 0, .max = 0.99}).value_or(0);
  setup.two_batch_overlap = s.boolean("two_batch_overlap", Need::optional).value_or(false);
  static const std::vector<std::string> kDispatch{"all_to_all", "allgather"};
  if (const auto dispatch = s.choice("moe_dispatch", Need::optional, kDispatch)) {
    setup.moe_dispatch =
        *dispatch == "allgather" ? ServingSetup::MoeDispatch::allgather : ServingSetup::MoeDispatch::all_to_all;
    if (!model.is_moe()) s.problem("moe_dispatch", fmt::format("{} has no experts", model.name));
  }
  static const std::vector<std::string> kDispatchTypes{"bf16", "fp8", "nvfp4"};
  if (const auto type = s.choice("moe_dispatch_type", Need::optional, kDispatchTypes)) {
    setup.dispatch_type = *parse_data_type(*type);
    if (!model.is_moe()) s.problem("moe_dispatch_type", fmt::format("{} has no experts", model.name));
  }
  setup.balanced_experts = s.boolean("eplb", Need::optional).value_or(false);
  if (setup.balanced_experts && !model.is_moe()) s.problem("eplb", fmt::format("{} has no experts", model.name));
  static const std::vector<std::string> kWindowKv{"window", "full"};
  setup.window_kv_only = s.choice("sliding_window_kv", Need::optional, kWindowKv).value_or("window") == "window";
  if (s.has("sliding_window_kv") && !model.sliding_window) {
    s.problem("sliding_window_kv", fmt::format("{} has no sliding-window layers", model.name));
  }

  if (auto p = s.object("published", Need::optional)) {
    ServingPublished pub;
    pub.run = p->string("run", Need::required).value_or("");
    pub.metric = p->choice("metric", Need::required, serving_published_metrics()).value_or("");
    pub.value = p->number("value", Need::required, {.min = 0, .min_exclusive = true}).value_or(1);
    pub.lower_bound = p->boolean("lower_bound", Need::optional).value_or(false);
    pub.engine = p->string("engine", Need::optional).value_or("");
    pub.source = p->string("source", Need::required).value_or("");
    pub.assumed = p->strings("assumed", Need::optional).value_or(std::vector<std::string>{});
    p->finish();
    out.published = pub;
  }
  s.finish();
  return out;
}

nlohmann::json serving_section_to_json(const ServingSection& section) {
  const auto& s = section.setup;
  const auto plan = [](const ServingPlan& p) {
    return nlohmann::json{{"tp", p.tp}, {"pp", p.pp}, {"dp_attention", p.dp_attention}, {"ep", p.ep}};
  };
  const auto batching = [](const Batching& b) {
    nlohmann::json out{{"max_batch_tokens", b.max_batch_tokens}, {"max_running", b.max_running},
                       {"reserve_output", b.reserve_output}};
    if (b.chunked_prefill) {
      out["prefill_chunk_tokens"] = b.prefill_chunk_tokens;
    } else {
      out["chunked_prefill"] = false;
    }
    if (!b.graph_batch_sizes.empty()) out["graph_batch_sizes"] = b.graph_batch_sizes;
    return out;
  };
  nlohmann::json out;
  out["weights"] = std::string(to_string(s.weight_type));
  out["expert_weights"] = std::string(to_string(s.expert_weight_type));
  out["kv_cache"] = std::string(to_string(s.kv_type));
  if (s.disaggregated()) {
    for (const auto& pool : s.pools) {
      out["disaggregation"][std::string(to_string(pool.role))] = {
          {"chips", pool.chips}, {"plan", plan(pool.plan)}, {"batching", batching(pool.batching)}};
    }
  } else {
    out["plan"] = plan(s.pools[0].plan);
    out["batching"] = batching(s.pools[0].batching);
  }
  const auto& w = s.workload;
  nlohmann::json workload;
  switch (w.arrival) {
    case ArrivalKind::poisson: workload = {{"arrival", "poisson"}, {"rate_per_s", w.rate_per_s}}; break;
    case ArrivalKind::concurrency: workload = {{"arrival", "concurrency"}, {"concurrency", w.concurrency}}; break;
    case ArrivalKind::trace: workload = {{"arrival", "trace"}, {"trace_requests", w.trace.size()}}; break;
    case ArrivalKind::offline: workload = {{"arrival", "offline"}}; break;
  }
  if (w.arrival != ArrivalKind::trace) {
    workload["requests"] = w.requests;
    workload["input_tokens"] = w.input_tokens;
    workload["output_tokens"] = w.output_tokens;
    workload["lengths"] = w.lengths == LengthDistribution::fixed ? "fixed" : "exponential";
  }
  workload["seed"] = w.seed;
  if (w.synthetic_tokens) workload["tokens"] = "synthetic";
  out["workload"] = workload;
  out["slo"] = {{"ttft_s", s.slo.ttft_s}, {"tpot_s", s.slo.tpot_s}};
  out["mtp"] = {{"draft_tokens", s.mtp.draft_tokens}, {"acceptance_rate", s.mtp.acceptance_rate}};
  out["prefix_cache_hit_rate"] = s.prefix_cache_hit_rate;
  out["two_batch_overlap"] = s.two_batch_overlap;
  if (!s.window_kv_only) out["sliding_window_kv"] = "full";
  if (s.moe_dispatch == ServingSetup::MoeDispatch::allgather) out["moe_dispatch"] = "allgather";
  if (s.balanced_experts) out["eplb"] = true;
  if (s.dispatch_type) out["moe_dispatch_type"] = std::string(to_string(*s.dispatch_type));
  if (const auto& p = section.published) {
    out["published"] = {{"run", p->run},         {"metric", p->metric}, {"value", p->value},
                        {"lower_bound", p->lower_bound}, {"engine", p->engine}, {"source", p->source}};
    if (!p->assumed.empty()) out["published"]["assumed"] = p->assumed;
  }
  return out;
}

}  // namespace flopcast
