#include "server/openapi.h"

#include "engine/sampler.h"

namespace verbatim::server {
namespace {

// The document, with the model-specific numbers patched in by openapi_document().
constexpr const char* kDocument = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "verbatim",
    "version": "0.1.0",
    "description": "OpenAI-compatible LLM server whose outputs do not change with load: two responses to the same request with the same system_fingerprint carry bitwise identical choices (text, token ids, logprobs)."
  },
  "paths": {
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "Liveness: 200 while serving, 503 while draining for shutdown",
        "responses": {
          "200": {"description": "serving", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
          "503": {"description": "draining", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics",
        "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}
      }
    },
    "/v1/models": {
      "get": {
        "operationId": "listModels",
        "summary": "The served model",
        "responses": {
          "200": {"description": "models", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}}},
          "401": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/completions": {
      "post": {
        "operationId": "createCompletion",
        "summary": "Text completion (legacy completions API)",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CompletionRequest"}}}},
        "responses": {
          "200": {
            "description": "the completion, or with stream=true a text/event-stream of chunks ending in data: [DONE]",
            "content": {
              "application/json": {"schema": {"$ref": "#/components/schemas/CompletionResponse"}},
              "text/event-stream": {"schema": {"$ref": "#/components/schemas/StreamEvent"}}
            }
          },
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/chat/completions": {
      "post": {
        "operationId": "createChatCompletion",
        "summary": "Chat completion",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}}},
        "responses": {
          "200": {
            "description": "the chat completion, or with stream=true a text/event-stream of chunks ending in data: [DONE]",
            "content": {
              "application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionResponse"}},
              "text/event-stream": {"schema": {"$ref": "#/components/schemas/StreamEvent"}}
            }
          },
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    }
  },
  "components": {
    "responses": {
      "Error": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
          "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
              "message": {"type": "string"},
              "type": {"type": "string"},
              "param": {"type": "string", "nullable": true},
              "code": {"type": "string", "nullable": true}
            }
          }
        }
      },
      "StreamEvent": {
        "type": "object",
        "description": "one server-sent event: data is a JSON chunk (the response's shape, object *.chunk for chat) or [DONE]",
        "required": ["data"],
        "properties": {"data": {"type": "string"}, "event": {"type": "string"}}
      },
      "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok", "draining"]}}},
      "Model": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
          "id": {"type": "string"},
          "object": {"type": "string", "enum": ["model"]},
          "created": {"type": "integer"},
          "owned_by": {"type": "string"},
          "max_model_len": {"type": "integer"},
          "system_fingerprint": {"type": "string"}
        }
      },
      "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"type": "string", "enum": ["list"]}, "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}}
      },
      "Stop": {
        "nullable": true,
        "oneOf": [
          {"type": "string", "minLength": 1},
          {"type": "array", "maxItems": 16, "items": {"type": "string", "minLength": 1}}
        ]
      },
      "StreamOptions": {"type": "object", "nullable": true, "properties": {"include_usage": {"type": "boolean", "nullable": true}}},
      "TokenIds": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0, "maximum": 0}},
      "CompletionRequest": {
        "type": "object",
        "required": ["prompt"],
        "properties": {
          "model": {"type": "string", "nullable": true, "description": "the served model's name (optional)"},
          "prompt": {
            "description": "text (empty: generate from BOS, where the model has one), token ids, or a batch of exactly one of those",
            "oneOf": [
              {"type": "string"},
              {"$ref": "#/components/schemas/TokenIds"},
              {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "string"}},
              {"type": "array", "minItems": 1, "maxItems": 1, "items": {"$ref": "#/components/schemas/TokenIds"}}
            ]
          },
          "max_tokens": {"type": "integer", "minimum": 1, "maximum": 0, "nullable": true, "description": "default 16; 0 is allowed with echo (scoring only)"},
          "temperature": {"type": "number", "minimum": 0, "nullable": true},
          "top_p": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "nullable": true},
          "top_k": {"type": "integer", "minimum": -1, "nullable": true, "description": "-1 or 0: off"},
          "min_p": {"type": "number", "minimum": 0, "maximum": 1, "nullable": true},
          "seed": {"type": "integer", "nullable": true, "description": "default 0: every request is reproducible"},
          "stop": {"$ref": "#/components/schemas/Stop"},
          "stop_token_ids": {"type": "array", "nullable": true, "items": {"type": "integer", "minimum": 0, "maximum": 0}},
          "logprobs": {"type": "integer", "minimum": 0, "maximum": 20, "nullable": true},
          "echo": {"type": "boolean", "nullable": true},
          "stream": {"type": "boolean", "nullable": true},
          "stream_options": {"$ref": "#/components/schemas/StreamOptions"},
          "n": {"type": "integer", "enum": [1, null], "nullable": true},
          "ignore_eos": {"type": "boolean", "nullable": true},
          "return_token_ids": {"type": "boolean", "nullable": true},
          "user": {"type": "string", "nullable": true}
        }
      },
      "ChatMessage": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
          "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
          "content": {"type": "string", "nullable": true, "description": "null only for assistant messages"},
          "name": {"type": "string", "nullable": true}
        }
      },
      "ChatCompletionRequest": {
        "type": "object",
        "required": ["messages"],
        "properties": {
          "model": {"type": "string", "nullable": true},
          "messages": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"$ref": "#/components/schemas/ChatMessage"}},
          "max_tokens": {"type": "integer", "minimum": 1, "maximum": 0, "nullable": true},
          "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": 0, "nullable": true},
          "temperature": {"type": "number", "minimum": 0, "nullable": true},
          "top_p": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "nullable": true},
          "top_k": {"type": "integer", "minimum": -1, "nullable": true},
          "min_p": {"type": "number", "minimum": 0, "maximum": 1, "nullable": true},
          "seed": {"type": "integer", "nullable": true},
          "stop": {"$ref": "#/components/schemas/Stop"},
          "logprobs": {"type": "boolean", "nullable": true},
          "top_logprobs": {"type": "integer", "minimum": 0, "maximum": 20, "nullable": true, "description": "needs logprobs: true"},
          "stream": {"type": "boolean", "nullable": true},
          "stream_options": {"$ref": "#/components/schemas/StreamOptions"},
          "n": {"type": "integer", "enum": [1, null], "nullable": true},
          "ignore_eos": {"type": "boolean", "nullable": true},
          "return_token_ids": {"type": "boolean", "nullable": true},
          "user": {"type": "string", "nullable": true}
        }
      },
      "Usage": {
        "type": "object",
        "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
        "properties": {"prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}
      },
      "CompletionLogprobs": {
        "type": "object",
        "nullable": true,
        "properties": {
          "tokens": {"type": "array", "items": {"type": "string"}},
          "token_logprobs": {"type": "array", "items": {"type": "number", "nullable": true}},
          "top_logprobs": {"type": "array", "items": {"type": "object", "nullable": true, "additionalProperties": {"type": "number", "nullable": true}}},
          "text_offset": {"type": "array", "items": {"type": "integer"}}
        }
      },
      "CompletionResponse": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices", "system_fingerprint"],
        "properties": {
          "id": {"type": "string"},
          "object": {"type": "string", "enum": ["text_completion"]},
          "created": {"type": "integer"},
          "model": {"type": "string"},
          "system_fingerprint": {"type": "string"},
          "choices": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["index", "text", "logprobs", "finish_reason"],
              "properties": {
                "index": {"type": "integer"},
                "text": {"type": "string"},
                "logprobs": {"$ref": "#/components/schemas/CompletionLogprobs"},
                "finish_reason": {"type": "string", "enum": ["stop", "length", "abort"]},
                "token_ids": {"type": "array", "items": {"type": "integer"}},
                "prompt_token_ids": {"type": "array", "items": {"type": "integer"}}
              }
            }
          },
          "usage": {"$ref": "#/components/schemas/Usage"}
        }
      },
      "ChatTokenLogprob": {
        "type": "object",
        "required": ["token", "logprob", "bytes"],
        "properties": {
          "token": {"type": "string"},
          "logprob": {"type": "number", "nullable": true},
          "bytes": {"type": "array", "items": {"type": "integer"}},
          "top_logprobs": {"type": "array", "items": {"type": "object", "properties": {"token": {"type": "string"}, "logprob": {"type": "number", "nullable": true}, "bytes": {"type": "array", "items": {"type": "integer"}}}}}
        }
      },
      "ChatCompletionResponse": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices", "system_fingerprint"],
        "properties": {
          "id": {"type": "string"},
          "object": {"type": "string", "enum": ["chat.completion"]},
          "created": {"type": "integer"},
          "model": {"type": "string"},
          "system_fingerprint": {"type": "string"},
          "choices": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["index", "message", "finish_reason"],
              "properties": {
                "index": {"type": "integer"},
                "message": {
                  "type": "object",
                  "required": ["role", "content"],
                  "properties": {"role": {"type": "string", "enum": ["assistant"]}, "content": {"type": "string", "nullable": true}, "refusal": {"type": "string", "nullable": true}}
                },
                "logprobs": {
                  "type": "object",
                  "nullable": true,
                  "properties": {"content": {"type": "array", "items": {"$ref": "#/components/schemas/ChatTokenLogprob"}}, "refusal": {"nullable": true}}
                },
                "finish_reason": {"type": "string", "enum": ["stop", "length", "abort"]},
                "token_ids": {"type": "array", "items": {"type": "integer"}},
                "prompt_token_ids": {"type": "array", "items": {"type": "integer"}}
              }
            }
          },
          "usage": {"$ref": "#/components/schemas/Usage"}
        }
      }
    }
  }
})json";

}  // namespace

nlohmann::json openapi_document(const OpenApiInfo& info) {
  nlohmann::json doc = nlohmann::json::parse(kDocument);
  nlohmann::json& s = doc["components"]["schemas"];
  const int max_token_id = info.vocab_size - 1;
  s["TokenIds"]["items"]["maximum"] = max_token_id;
  s["CompletionRequest"]["properties"]["stop_token_ids"]["items"]["maximum"] = max_token_id;
  s["CompletionRequest"]["properties"]["max_tokens"]["maximum"] = info.context_length;
  s["ChatCompletionRequest"]["properties"]["max_tokens"]["maximum"] = info.context_length;
  s["ChatCompletionRequest"]["properties"]["max_completion_tokens"]["maximum"] = info.context_length;
  s["CompletionRequest"]["properties"]["model"]["example"] = info.model_name;
  s["ChatCompletionRequest"]["properties"]["model"]["example"] = info.model_name;
  doc["info"]["x-served-model"] = info.model_name;
  if (info.api_key) {
    doc["components"]["securitySchemes"] = {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}};
    for (const char* path : {"/v1/models", "/v1/completions", "/v1/chat/completions"})
      for (auto& [method, op] : doc["paths"][path].items())
        op["security"] = nlohmann::json::array({{{"bearer", nlohmann::json::array()}}});
  }
  return doc;
}

}  // namespace verbatim::server
