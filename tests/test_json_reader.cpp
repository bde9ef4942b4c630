#include <catch2/catch.hpp>

#include "flopcast/core/files.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/core/units.hpp"

using namespace flopcast;
using Catch::Matchers::WithinRel;

TEST_CASE("units convert to the internal unit and decimal and binary prefixes apart", "[core][units]") {
  CHECK(find_unit("GB")->to_internal == 1e9);
  CHECK(find_unit("GiB")->to_internal == 1073741824.0);  // 2^30, never 1e9
  CHECK(find_unit("TFLOP/s")->to_internal == 1e12);
  CHECK_THAT(find_unit("Gb/s")->to_internal, WithinRel(1.25e8, 1e-12));  // 400 Gb/s = 50 GB/s
  CHECK(find_unit("Gb/s")->dimension == Dimension::byte_rate);
  CHECK_FALSE(find_unit("GBps").has_value());
}

TEST_CASE("the reader collects every problem with its JSON path", "[core][json]") {
  const auto json = nlohmann::json::parse(R"({"chips": 0, "name": 5, "tpp": "x", "extra": 1, "chip": "h100"})");
  std::vector<Problem> problems;
  JsonReader reader(json, "f.json", "", problems);
  reader.integer("chips", Need::required, {.min = 1});
  reader.string("name", Need::required);
  reader.number("tpp", Need::required);
  reader.string("missing", Need::required);
  reader.string("chips_per_node", Need::optional);
  reader.string("chip", Need::required);
  reader.finish();
  REQUIRE(problems.size() == 5);
  CHECK(to_string(problems[0]) == "f.json: /chips: expected an integer >= 1, got 0");
  CHECK(to_string(problems[1]) == "f.json: /name: expected a string, got 5");
  CHECK(to_string(problems[2]) == "f.json: /tpp: expected a number, got the string \"x\"");
  CHECK(to_string(problems[3]) == "f.json: /missing: is required but missing");
  CHECK(to_string(problems[4]) == "f.json: /extra: unknown key");
}

TEST_CASE("a string of an array with a control character is named by its index", "[core][json]") {
  const auto json = nlohmann::json::parse(R"({"list": {"names": ["ok", "bad\u001b"]}})");
  std::vector<Problem> problems;
  JsonReader reader(json, "f.json", "", problems);
  auto list = reader.object("list", Need::required);
  REQUIRE(list);
  CHECK_FALSE(list->strings("names", Need::required));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "/list/names/1");  // the element's JSON pointer, the '/' not escaped as in a key
}

TEST_CASE("unknown keys suggest the closest known one", "[core][json]") {
  const auto json = nlohmann::json::parse(R"({"chps": 8})");
  std::vector<Problem> problems;
  JsonReader reader(json, "f.json", "/cluster", problems);
  reader.integer("chips", Need::optional);
  reader.finish();
  REQUIRE(problems.size() == 1);
  CHECK(to_string(problems[0]) == "f.json: /cluster/chps: unknown key (did you mean \"chips\"?)");
}

TEST_CASE("quantities need a unit of the right dimension and a source or an estimate", "[core][json]") {
  const auto json = nlohmann::json::parse(
      R"({"ok": {"value": 80, "unit": "GiB", "source": "datasheet"},
          "wrong_unit": {"value": 80, "unit": "TB/s", "source": "x"},
          "unsourced": {"value": 1, "unit": "GB"},
          "range": {"value": 320, "low": 280, "high": 400, "unit": "TFLOP/s", "estimate": "disputed"}})");
  std::vector<Problem> problems;
  JsonReader reader(json, "c.json", "", problems);
  const auto ok = reader.quantity("ok", Need::required, Dimension::bytes);
  reader.quantity("wrong_unit", Need::required, Dimension::bytes);
  reader.quantity("unsourced", Need::required, Dimension::bytes);
  const auto range = reader.quantity("range", Need::required, Dimension::flop_rate);
  REQUIRE(ok);
  CHECK(ok->value == 80.0 * 1073741824.0);
  REQUIRE(range);
  CHECK(range->low_or_value() == 280e12);
  CHECK(range->is_estimate());
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].path == "/wrong_unit/unit");
  CHECK(problems[0].message.find("expected a memory size unit") == 0);
  CHECK(to_string(problems[1]) ==
        "c.json: /unsourced: needs a \"source\" (where the number comes from) or an \"estimate\" (the reasoning)");
}

TEST_CASE("files: missing and directory and empty and invalid JSON give clear messages", "[core][files]") {
  CHECK_THROWS_WITH(read_json_file("/nonexistent/x.json"), "/nonexistent/x.json: no such file");
  CHECK_THROWS_WITH(read_json_file("/tmp"), "/tmp: is a directory, expected a file");
  CHECK_THROWS_WITH(parse_json_text("  \n", "e.json"), "e.json: is empty, expected a JSON object");
  CHECK_THROWS_WITH(parse_json_text("{\n  \"a\": 1,\n}", "b.json"),
                    Catch::Matchers::StartsWith("b.json: invalid JSON at line 3, column 1"));
}

TEST_CASE("edit distance and suggestions", "[core][text]") {
  CHECK(edit_distance("h100-sxm", "h100-sxm") == 0);
  CHECK(edit_distance("h10-sxm", "h100-sxm") == 1);
  const std::vector<std::string> ids{"h100-sxm", "h800-sxm", "ascend-910b"};
  CHECK(did_you_mean("ascend910b", ids) == " (did you mean \"ascend-910b\"?)");
  CHECK(did_you_mean("tpu-v5", ids).empty());
}

TEST_CASE("escaping for HTML, SVG and CSV happens in one place", "[core][text]") {
  // A scenario named <script>...</script> goes into a report as text, never markup (issue 25, item 7).
  CHECK(xml_escape("<script>alert('x')</script> & \"q\"") ==
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  CHECK(xml_escape(std::string("bell\x07 tab\t")) == "bell tab\t");  // XML 1.0 has no place for BEL
  // RFC 4180 quoting, and an apostrophe before what a spreadsheet would run as a formula.
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"");
  CHECK(csv_field("@SUM(A1)") == "'@SUM(A1)");
  CHECK(csv_field("+1+cmd|' /C calc'!A0") == "'+1+cmd|' /C calc'!A0");
  CHECK(csv_field("-12.5") == "-12.5");  // a number stays a number
  CHECK(first_control_character("Llama 3 on 8 H100") == std::string::npos);
  CHECK(first_control_character("a\tb\nc") == std::string::npos);
  CHECK(first_control_character("red \x1b[31m") == 4);
  CHECK(first_control_character("del\x7f") == 3);
  CHECK(first_control_character("c1 \xc2\x9b") == 3);  // U+009B, CSI
  CHECK(first_control_character("caf\xc3\xa9") == std::string::npos);  // U+00E9 is text
}

TEST_CASE("JSON inputs: keys once per object, bounded nesting, regular files", "[core][files]") {
  CHECK_THROWS_WITH(parse_json_text(R"({"a": {"b": 1, "c": [{"d": 1, "d": 2}]}})", "k.json"),
                    "k.json: /a/c/0/d: appears twice in its object; JSON keys must be unique (the last one would win "
                    "in silence)");
  CHECK_NOTHROW(parse_json_text(R"({"a": {"b": 1}, "c": {"b": 2}})", "k.json"));  // the same key in two objects
  const std::string deep = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  CHECK_NOTHROW(parse_json_text(deep, "d.json"));
  CHECK_THROWS_WITH(parse_json_text("[" + deep + "]", "d.json"),
                    Catch::Matchers::EndsWith("nests deeper than 64 levels; no flopcast input needs more than a few"));
  CHECK_THROWS_WITH(read_text_file("/dev/null"), "/dev/null: is a character device, expected a regular file");
}

TEST_CASE("atomic writes replace the file whole", "[core][files]") {
  const auto path = std::filesystem::temp_directory_path() / "flopcast_atomic_test.txt";
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  CHECK(read_text_file(path) == "second");
  std::filesystem::remove(path);
  CHECK_THROWS_AS(write_file_atomic("/nonexistent-dir/x.txt", "x"), IoError);
}

TEST_CASE("human units: a time range is written in one unit, the larger value's", "[core][human]") {
  using namespace flopcast::human;
  CHECK(seconds(114.69) == "114.69 s");  // below 120 s: seconds, two decimals
  CHECK(seconds(132.0) == "2.2 min");    // 132 s / 60 = 2.2 min
  // The p10-p90 range that read "114.69 s to 2.2 min": 114.69 / 60 = 1.91 min, 132 / 60 = 2.20 min.
  CHECK(seconds_range(114.69, 132.0) == "1.9 to 2.2 min");
  CHECK(seconds_range(0.0005, 0.002) == "0.5 to 2.0 ms");  // 0.5 ms, 2.0 ms
  CHECK(seconds_range(3600.0, 9000.0) == "1.0 to 2.5 h");  // 9000 s / 3600 = 2.5 h
  CHECK(days_range(33.14, 46.86) == "33.1 to 46.9 days");
}

TEST_CASE("long lines wrap after a comma, under their label, and short ones stay", "[core][text]") {
  // 30 columns: "  cost   $1 M rental, $2 per" is 28; the next ", " falls beyond, so the line breaks after "rental,".
  CHECK(wrap_lines("  cost   $1 M rental, $2 per chip-hour, $3 per M\nshort\n", 30, 9) ==
        "  cost   $1 M rental,\n         $2 per chip-hour,\n         $3 per M\nshort\n");
  // No comma: the last space that fits; a word longer than the width stays whole.
  CHECK(wrap_lines("aaa bbb ccc", 8, 2) == "aaa bbb\n  ccc");
  CHECK(wrap_lines("aaaaaaaaaaaa", 8, 2) == "aaaaaaaaaaaa");
  // A word longer than the width stays whole; what follows it wraps.
  CHECK(wrap_lines("xx aaaaaaaaaaaa bb cc dd ee", 8, 2) == "xx\n  aaaaaaaaaaaa\n  bb cc\n  dd ee");
  CHECK(wrap_lines("", 8, 2).empty());
}
