// Errors at the edges: every parser and validator throws verbatim::Error with one clear message that names the
// file (or request field) and the problem. Kernels assert shapes instead; they never see untrusted input.
#pragma once

#include <stdexcept>
#include <string>

namespace verbatim {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error("<where>: <what>"). `where` is usually a file path or a field name.
[[noreturn]] void fail(const std::string& where, const std::string& what);

}  // namespace verbatim
