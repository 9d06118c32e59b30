// A short, bounded description of a JSON value for error messages: scalars as written (long strings cut), arrays and
// objects by their kind and size. Never dumps containers, so a deeply nested or huge value cannot blow up a message.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace verbatim::formats {

inline std::string json_brief(const nlohmann::json& v) {
  if (v.is_array()) return "an array of " + std::to_string(v.size()) + " elements";
  if (v.is_object()) return "an object";
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

}  // namespace verbatim::formats
