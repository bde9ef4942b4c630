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

// Each line of `text` longer than `width` columns broken after its last ", " or "; " that fits (else, or where that
// comes before 60 % of the width, after its last space), the rest on lines indented by `indent` spaces: terminal
// output that fits 100 columns.
std::string wrap_lines(std::string_view text, std::size_t width, std::size_t indent);

// Every output format's escaping, in one place.
// Text for HTML and XML (SVG) content and attribute values: & < > " ' as entities; the control characters XML 1.0
// forbids (C0 other than tab, line feed and carriage return) dropped.
std::string xml_escape(std::string_view text);
// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. A text a spreadsheet would run as a
// formula (one that starts with =, +, -, @, a tab or a carriage return and is not a number) gets a leading
// apostrophe (OWASP's advice on CSV injection).
std::string csv_field(std::string_view text);
// The first control character of `text` (C0 other than tab, line feed and carriage return, DEL, or C1 from U+0080
// to U+009F), or npos: input strings must not carry them, a terminal would act on them when a name is printed.
std::size_t first_control_character(std::string_view text);

}  // namespace flopcast
