#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace verbatim::server {
namespace {

nlohmann::json field_or_null(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

std::string render(const std::string& message, const std::string& type, const std::string& param,
                   const std::string& code) {
  nlohmann::json e = {
      {"error",
       {{"message", message}, {"type", type}, {"param", field_or_null(param)}, {"code", field_or_null(code)}}}};
  return e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string ApiError::body() const {
  return render(what(), type, param, code);
}

ApiError invalid_request(const std::string& param, const std::string& message, const std::string& code) {
  return ApiError(400, "invalid_request_error", param, code, message);
}

ApiError unsupported(const std::string& param, const std::string& message) {
  return ApiError(400, "invalid_request_error", param, "unsupported", message);
}

std::string error_body(int status, const std::string& message, const std::string& type, const std::string& code) {
  (void)status;
  return render(message, type, "", code);
}

}  // namespace verbatim::server
