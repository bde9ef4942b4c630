// flopcast claims: claims from public debate with the verdict the model gives them.

#include <unistd.h>

#include <sstream>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/studies/claims.hpp"
#include "format.hpp"

namespace flopcast::cli {

namespace {

std::string relation_text(ClaimRelation relation) {
  switch (relation) {
    case ClaimRelation::about: return "about";
    case ClaimRelation::at_most: return "at most";
    case ClaimRelation::at_least: return "at least";
  }
  return "";
}

}  // namespace

std::filesystem::path default_claims_dir() { return data_root() / "scenarios" / "claims"; }

int check_claims(const ClaimsOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto dir = options.dir.empty() ? default_claims_dir() : std::filesystem::path(options.dir);
  const auto claims = load_claims(dir, catalogs);
  const bool progress = !options.quiet && ::isatty(STDERR_FILENO);
  std::vector<ClaimResult> results;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    if (progress) fmt::print(stderr, "\r[{}/{}] {:<60.60}", i + 1, claims.size(), claims[i].claim);
    results.push_back(evaluate_claim(claims[i], catalogs, options.tier));
  }
  if (progress) fmt::print(stderr, "\r{:72}\r", "");
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : results) list.push_back(claim_result_to_json(r));
    out << list.dump(2) << '\n';
    return 0;
  }
  std::ostringstream text;  // within 100 columns, under the labels' column, at the end
  fmt::print(text, "Claims from public debate, checked against flopcast ({}; ranges are p10-p90)\n",
             options.tier == Tier::analytical ? "tier 1" : options.tier == Tier::replica ? "tier 2" : "tier 3");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    fmt::print(text, "\n[{}] \"{}\"\n    source   {}\n    verdict  {}\n", i + 1, r.claim.claim, r.claim.source,
               to_string(r.verdict));
    for (std::size_t k = 0; k < r.checks.size(); ++k) {
      const auto& c = r.checks[k];
      const auto value = [&](double v) { return check_value_text(r.claim.checks[k], v); };
      fmt::print(text, "    - {} ({})\n      predicted {}", c.label, to_string(c.metric), value(c.predicted));
      // The architecture's and the catalog's own figures have no range (no model error, no catalog range).
      if (c.p10 < c.p90) fmt::print(text, " (p10-p90 {})", human::range(value(c.p10), value(c.p90)));
      if (c.claimed) {
        fmt::print(text, "; claimed {} {}: {}\n", relation_text(c.relation), value(*c.claimed),
                   to_string(c.verdict));
      } else {
        fmt::print(text, "\n");
      }
      for (const auto& why : c.not_fitting) fmt::print(text, "      does not fit in memory: {}\n", why);
      if (c.at_full_kernel_efficiency > 0) {
        if (c.kernel_factor) {
          fmt::print(text, "      would need every kernel efficiency of the chip family x{:.2f} (GEMM at {} of peak)\n",
                     *c.kernel_factor, percent(c.gemm_efficiency_needed.value_or(0)));
        } else {
          fmt::print(text, "      out of reach by kernels alone: with every kernel at 100 % of peak, tier 1 gives {}\n",
                     value(c.at_full_kernel_efficiency));
        }
      }
    }
    if (!r.claim.note.empty()) fmt::print(text, "    note     {}\n", r.claim.note);
  }
  out << wrap_lines(text.str(), 100, 13);
  return 0;
}

}  // namespace flopcast::cli
