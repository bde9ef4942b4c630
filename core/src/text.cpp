#include "flopcast/core/text.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace flopcast {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Levenshtein distance, case-insensitive, one row of the DP table at a time.
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_match(std::string_view word, std::span<const std::string> candidates) {
  // A candidate that starts with the word ("h800" for "h800-sxm") is the likeliest meaning; the shortest wins.
  std::optional<std::string> prefixed;
  for (const auto& candidate : candidates) {
    const bool starts = word.size() >= 2 && candidate.size() > word.size() &&
                        edit_distance(candidate.substr(0, word.size()), word) == 0;
    if (starts && (!prefixed || candidate.size() < prefixed->size())) prefixed = candidate;
  }
  if (prefixed) return prefixed;
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, std::span<const std::string> candidates) {
  if (auto match = closest_match(word, candidates)) return fmt::format(" (did you mean \"{}\"?)", *match);
  return {};
}

std::string join(std::span<const std::string> items, std::string_view separator) {
  std::string text;
  for (const auto& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

}  // namespace flopcast
