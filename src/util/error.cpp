#include "util/error.h"

namespace verbatim {

void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

}  // namespace verbatim
