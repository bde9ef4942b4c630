#pragma once
// The desktop app's document model: what the app does to an open file's JSON before the scenario parser sees it (the
// name it lists, a field the form sets, a chip change, a copy on another chip). The JSON may be anything a user
// typed: none of these throws on a shape the parser would reject; the parser then reports the problem at its path.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast::gui {

// A document's name as shown: its "name" when that is a non-empty string (an invalid one is listed as invalid by the
// scenario checks, never thrown at the user), else `fallback`.
std::string display_name(const nlohmann::json& json, const std::string& fallback);

// A chip change keeps the scenario valid where the catalog says how: a node that cannot hold the new chip gives way
// to the chip's default node, a scale-out fabric given for the old node to the new node's, and a precision the
// chip has no peak for (FP8 on an Ascend 910) to bf16. Returns what it changed, in words ("node cloudmatrix-384").
std::vector<std::string> follow_chip(nlohmann::json& json, const Catalogs& catalogs);

// Sets the field at `pointer` (an object path of the schema, "/cluster/chip") to `value`, or removes it when `value`
// is null. An ancestor that is not an object (a user's "cluster": 5) becomes one: the field the form shows is an
// object member, and the value it replaces was one the parser rejects anyway. A document that is not an object
// becomes one. A pointer through an array or with an empty key is left alone.
void set_field(nlohmann::json& json, const std::string& pointer, const nlohmann::json& value);

// A copy of `json` named "NAME (copy)", or moved to chip `chip_id` and named "NAME, on CHIP" (node, fabric and
// precision following the chip, what changed in `changed` when given), NAME being display_name(json, fallback_name).
nlohmann::json duplicate(const nlohmann::json& json, const std::string& fallback_name, const std::string& chip_id,
                         const Catalogs& catalogs, std::vector<std::string>* changed = nullptr);

}  // namespace flopcast::gui
