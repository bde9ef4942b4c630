#include "flopcast/core/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

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

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (byte >= 0x20 || c == '\t' || c == '\n' || c == '\r') out += c;
    }
  }
  return out;
}

namespace {

bool is_number(std::string_view text) {
  const std::string copy(text);
  char* end = nullptr;
  std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size();
}

}  // namespace

std::string csv_field(std::string_view text) {
  std::string field(text);
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos && !is_number(text)) {
    field.insert(field.begin(), '\'');
  }
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::size_t first_control_character(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') || byte == 0x7F) return i;
    // C1 controls are U+0080-U+009F, in UTF-8 0xC2 0x80-0x9F.
    if (byte == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9F &&
        static_cast<unsigned char>(text[i + 1]) >= 0x80) {
      return i;
    }
  }
  return std::string_view::npos;
}

namespace {

// Where to break `line` to fit `width`: just after its last ", " or "; " within it (in its last 40 %), else at its
// last space; npos if neither.
std::size_t break_at(std::string_view line, std::size_t width) {
  std::size_t best = std::string_view::npos;
  for (std::size_t i = 1; i + 1 < line.size() && i < width; ++i) {
    if ((line[i] == ',' || line[i] == ';') && line[i + 1] == ' ') best = i + 1;
  }
  // A comma early in the line would leave it ragged: then the last space.
  if (best != std::string_view::npos && best * 5 >= width * 3) return best;
  const std::size_t space = line.substr(0, width + 1).rfind(' ');
  return space == 0 ? std::string_view::npos : space;
}

}  // namespace

std::string wrap_lines(std::string_view text, std::size_t width, std::size_t indent) {
  std::string out;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    std::string rest(line);
    bool first = true;
    while (true) {
      const std::string prefix = first ? "" : std::string(indent, ' ');
      const std::string full = prefix + rest;
      std::size_t cut = full.size() > width ? break_at(full, width) : std::string_view::npos;
      // A word longer than the width stays whole, on a line of its own as far as it goes; the rest wraps after it.
      if (full.size() > width && (cut == std::string_view::npos || cut <= prefix.size())) {
        cut = full.find(' ', std::max(prefix.size(), width));
      }
      if (cut == std::string_view::npos || cut <= prefix.size()) {
        out += full;
        break;
      }
      out += full.substr(0, cut);
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += '\n';
      rest = full.substr(cut);
      rest.erase(0, rest.find_first_not_of(' '));
      first = false;
    }
    if (end != std::string_view::npos) out += '\n';
  }
  return out;
}

}  // namespace flopcast
