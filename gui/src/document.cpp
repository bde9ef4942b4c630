#include "document.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

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

std::vector<std::string> follow_chip(nlohmann::json& json, const Catalogs& catalogs) {
  std::vector<std::string> changed;
  const nlohmann::json::json_pointer chip_ptr("/cluster/chip");
  const nlohmann::json::json_pointer node_ptr("/cluster/node");
  const nlohmann::json::json_pointer fabric_ptr("/cluster/network/fabric");
  const nlohmann::json::json_pointer precision_ptr("/training/precision");
  const std::string* chip_id = string_at(json, chip_ptr);
  const auto* chip = chip_id != nullptr ? catalogs.hardware.find_chip(*chip_id) : nullptr;
  if (chip == nullptr) return changed;
  const std::string* node_id = string_at(json, node_ptr);
  const auto* node = node_id != nullptr ? catalogs.hardware.find_node(*node_id) : nullptr;
  if (node != nullptr && node->chip != chip->id) {
    json[node_ptr] = chip->default_node;
    changed.push_back("node " + chip->default_node);
    // The fabric given for the old node follows to the new node's (an HGX node's InfiniBand is not an Atlas
    // node's RoCE).
    const auto* new_node = catalogs.hardware.find_node(chip->default_node);
    const std::string* fabric = string_at(json, fabric_ptr);
    if (new_node != nullptr && fabric != nullptr && *fabric != new_node->default_fabric) {
      json[fabric_ptr] = new_node->default_fabric;
      changed.push_back("fabric " + new_node->default_fabric);
    }
  }
  if (const std::string* precision = string_at(json, precision_ptr)) {
    const auto type = parse_data_type(*precision);
    if (type && !chip->peak(*type)) {
      changed.push_back(fmt::format("precision bf16 (the chip has no {} peak)", *precision));
      json[precision_ptr] = "bf16";
    }
  }
  return changed;
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
                         const Catalogs& catalogs, std::vector<std::string>* changed) {
  nlohmann::json copy = json.is_object() ? json : nlohmann::json::object();
  const std::string name = display_name(json, fallback_name);
  if (chip_id.empty()) {
    copy["name"] = name + " (copy)";
    return copy;
  }
  copy["name"] = name + ", on " + chip_id;
  set_field(copy, "/cluster/chip", chip_id);
  auto followed = follow_chip(copy, catalogs);
  if (changed != nullptr) *changed = std::move(followed);
  return copy;
}

}  // namespace flopcast::gui
