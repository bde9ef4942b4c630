#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace flopcast {

std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo.
std::optional<std::string> closest_match(std::string_view word, std::span<const std::string> candidates);

// " (did you mean "x"?)" or "".
std::string did_you_mean(std::string_view word, std::span<const std::string> candidates);

std::string join(std::span<const std::string> items, std::string_view separator);

}  // namespace flopcast
