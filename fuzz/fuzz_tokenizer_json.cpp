// libFuzzer target: bytes -> tokenizer.json text -> tokenizer_from_hf_json. When it loads, a slice of the input is
// encoded with parse_special both ways, decoded (whole and streamed) and checked for consistency. The input may
// carry the text to encode after a NUL byte: "<json>\0<text>"; otherwise the second half of the input is used.
// verbatim::Error is the only clean rejection; anything else (crash, sanitizer report, other exception) is a bug.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view json = nul == std::string_view::npos ? input : input.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? input.substr(size / 2) : input.substr(nul + 1);
  try {
    auto tok = verbatim::tokenizer_from_hf_json(json, "", "fuzz-input");
    for (bool parse_special : {false, true}) {
      const std::vector<int32_t> ids = tok->encode(text, parse_special);
      for (int32_t id : ids) {
        if (id < 0 || id >= tok->vocab_size()) std::abort();  // encode must only produce valid ids
        (void)tok->piece(id);
        (void)tok->is_control(id);
      }
      const std::string whole = tok->decode(ids);
      verbatim::StreamDecoder stream(*tok);
      std::string streamed;
      for (int32_t id : ids) streamed += stream.push(id);
      streamed += stream.flush();
      if (streamed != whole) std::abort();
    }
    for (const std::string_view p : {std::string_view("a"), text.substr(0, 8)}) (void)tok->find_piece(p);
  } catch (const verbatim::Error&) {
  }
  return 0;
}
