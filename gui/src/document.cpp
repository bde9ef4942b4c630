#include "document.hpp"

#include <algorithm>
#include <vector>

namespace flopcast::gui {

std::string display_name(const nlohmann::json& json, const std::string& fallback) {
  if (!json.is_object()) return fallback;
  const auto found = json.find("name");
  if (found != json.end() && found->is_string() && !found->get_ref<const std::string&>().empty()) {
    return found->get<std::string>();
  }
  return fallback;
}

namespace {

// The string at `pointer` (object members only), or null.
const std::string* string_at(const nlohmann::json& json, const nlohmann::json::json_pointer& pointer) {
  if (!json.contains(pointer)) return nullptr;
  const auto& value = json.at(pointer);
  return value.is_string() ? &value.get_ref<const std::string&>() : nullptr;
}

}  // namespace

void follow_chip(nlohmann::json& json, const Catalogs& catalogs) {
  const nlohmann::json::json_pointer chip_ptr("/cluster/chip");
  const nlohmann::json::json_pointer node_ptr("/cluster/node");
  const std::string* chip_id = string_at(json, chip_ptr);
  if (chip_id == nullptr || !json.contains(node_ptr)) return;
  const auto* chip = catalogs.hardware.find_chip(*chip_id);
  const std::string* node_id = string_at(json, node_ptr);
  const auto* node = node_id != nullptr ? catalogs.hardware.find_node(*node_id) : nullptr;
  if (chip != nullptr && node != nullptr && node->chip != chip->id) json[node_ptr] = chip->default_node;
}

void set_field(nlohmann::json& json, const std::string& pointer, const nlohmann::json& value) {
  std::vector<std::string> keys;
  try {
    for (auto p = nlohmann::json::json_pointer(pointer); !p.empty(); p = p.parent_pointer()) {
      keys.insert(keys.begin(), p.back());
    }
  } catch (const nlohmann::json::exception&) {
    return;  // not a pointer the form makes
  }
  if (keys.empty() || std::find(keys.begin(), keys.end(), "") != keys.end()) return;
  nlohmann::json* node = &json;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (node->is_array()) return;
    if (!node->is_object()) {
      if (value.is_null()) return;  // nothing there to remove
      *node = nlohmann::json::object();
    }
    if (i + 1 == keys.size()) break;
    const auto found = node->find(keys[i]);
    if (found == node->end()) {
      if (value.is_null()) return;
      node = &(*node)[keys[i]];
    } else {
      node = &*found;
    }
  }
  if (value.is_null()) {
    node->erase(keys.back());
  } else {
    (*node)[keys.back()] = value;
  }
}

nlohmann::json duplicate(const nlohmann::json& json, const std::string& fallback_name, const std::string& chip_id,
                         const Catalogs& catalogs) {
  nlohmann::json copy = json.is_object() ? json : nlohmann::json::object();
  const std::string name = display_name(json, fallback_name);
  if (chip_id.empty()) {
    copy["name"] = name + " (copy)";
    return copy;
  }
  copy["name"] = name + ", on " + chip_id;
  set_field(copy, "/cluster/chip", chip_id);
  follow_chip(copy, catalogs);
  return copy;
}

}  // namespace flopcast::gui
