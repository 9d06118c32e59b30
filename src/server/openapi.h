// GET /openapi.json: an OpenAPI 3.0 document of the server's endpoints and their schemas (request bodies with the
// ranges the server enforces, responses with their status codes), for clients and for schemathesis.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace verbatim::server {

struct OpenApiInfo {
  std::string model_name;
  int context_length = 0;
  int vocab_size = 0;
  bool api_key = false;  // whether /v1 routes require a bearer token
};

nlohmann::json openapi_document(const OpenApiInfo& info);

}  // namespace verbatim::server
