#include "unit/tokenizer_test_util.h"

#include <fstream>
#include <mutex>
#include <sstream>

#include "support/test_support.h"

namespace verbatim::testing {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<GoldenCase> read_golden_cases(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = read_file(inp_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<GoldenCase> cases;
  size_t pos = 0;
  // The first input starts at offset 0; each ends right before "\n__ggml_vocab_test__\n".
  while (true) {
    const size_t at = inp.find(sep, pos);
    if (at == std::string::npos) break;
    cases.push_back({inp.substr(pos, at - pos), {}});
    pos = at + sep.size();
  }
  std::istringstream out(read_file(out_path));
  std::string line;
  for (GoldenCase& c : cases) {
    if (!std::getline(out, line)) break;
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) c.ids.push_back(id);
  }
  return cases;
}

const Tokenizer* qwen3_tokenizer() {
  static std::once_flag once;
  static std::unique_ptr<Tokenizer> tok;
  std::call_once(once, [] {
    const std::string dir = shared_file("tokenizers/qwen3");
    if (!dir.empty()) tok = load_tokenizer(dir);
  });
  return tok.get();
}

}  // namespace verbatim::testing
