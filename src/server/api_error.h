// Errors the API reports, in OpenAI's format: {"error": {"message", "type", "param", "code"}} with an HTTP status.
#pragma once

#include <stdexcept>
#include <string>

namespace verbatim::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, std::string param, std::string code, const std::string& message)
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}

  int status;
  std::string type;   // "invalid_request_error", "authentication_error", ...
  std::string param;  // the request field at fault; "" for none (null in JSON)
  std::string code;   // a short machine-readable code; "" for none

  std::string body() const;  // the JSON error document
};

// 400 invalid_request_error naming `param`.
ApiError invalid_request(const std::string& param, const std::string& message,
                         const std::string& code = "invalid_value");
// 400 for a feature this server does not implement (e.g. n > 1).
ApiError unsupported(const std::string& param, const std::string& message);

// The JSON error document for a status with no more specific message (404 route, 413 body, ...).
std::string error_body(int status, const std::string& message, const std::string& type, const std::string& code);

}  // namespace verbatim::server
