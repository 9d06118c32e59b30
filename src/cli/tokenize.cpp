// `verbatim tokenize`: text -> token ids (or ids -> text with --decode), for scripts and tests. No BOS is added.
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace verbatim::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string tokenizer;
  std::string file;
  bool parse_special = false;
  bool decode = false;
  bool jsonl = false;
};

// --model: an HF model directory (its tokenizer.json), a GGUF file (its embedded vocabulary) or a tokenizer.json.
// A llama2.c checkpoint carries no tokenizer: that needs --tokenizer.
std::unique_ptr<Tokenizer> tokenizer_of_model(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return load_tokenizer(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the model");
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  const size_t first = head.find_first_not_of(" \t\r\n");
  if (head.compare(0, 4, "GGUF") == 0 || (first != std::string::npos && head[first] == '{')) {
    return load_tokenizer(path);
  }
  fail(path, "this model file carries no tokenizer (only GGUF files and HF model directories do); use --tokenizer");
}

std::string read_input(const std::string& file) {
  if (!file.empty()) return read_text_file(file);
  std::ostringstream ss;
  ss << std::cin.rdbuf();
  return ss.str();
}

void write(const std::string& s) {
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) fail("stdout", "write failed");
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < INT32_MIN || v > INT32_MAX) fail("input", "'" + word + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  return out;
}

// One JSON value per line: a string to encode (prints an array of ids), or with --decode an array of ids (prints
// the text as a JSON string).
void run_jsonl(const Tokenizer& tok, const TokenizeOptions& o, const std::string& input) {
  std::istringstream in(input);
  std::string line;
  size_t line_no = 0;
  std::string out;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const std::string where = "input line " + std::to_string(line_no);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail(where, std::string("invalid JSON: ") + e.what());
    }
    if (o.decode) {
      if (!j.is_array()) fail(where, "expected an array of token ids");
      std::vector<int32_t> ids;
      for (const auto& v : j) {
        if (!v.is_number_integer()) fail(where, "expected an array of token ids");
        ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
      }
      out += nlohmann::json(tok.decode(ids)).dump(-1, ' ', /*ensure_ascii=*/true);
    } else {
      if (!j.is_string()) fail(where, "expected a JSON string");
      out += nlohmann::json(tok.encode(j.get<std::string>(), o.parse_special)).dump();
    }
    out += '\n';
  }
  write(out);
}

int run_tokenize(const TokenizeOptions& o) {
  if (o.model.empty() == o.tokenizer.empty()) fail("tokenize", "give exactly one of --model and --tokenizer");
  const std::unique_ptr<Tokenizer> tok = o.model.empty() ? load_tokenizer(o.tokenizer) : tokenizer_of_model(o.model);
  const std::string input = read_input(o.file);
  if (o.jsonl) {
    run_jsonl(*tok, o, input);
  } else if (o.decode) {
    write(tok->decode(parse_ids(input)));
  } else {
    write(join_ids(tok->encode(input, o.parse_special)) + "\n");
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text (stdin or --file), without BOS");
  auto* model = cmd->add_option("--model", opts->model, "Model: HF directory, GGUF file or tokenizer.json");
  auto* tokenizer = cmd->add_option("--tokenizer", opts->tokenizer,
                                    "Tokenizer: tokenizer.json, its directory, GGUF or llama2.c .bin");
  model->excludes(tokenizer);
  cmd->add_option("--file", opts->file, "Read the input from this file instead of stdin");
  cmd->add_flag("--parse-special", opts->parse_special,
                "Turn special tokens written in the text (e.g. <|im_start|>) into their ids");
  cmd->add_flag("--decode", opts->decode, "Read token ids (whitespace-separated) and print their text");
  cmd->add_flag("--jsonl", opts->jsonl,
                "Batch mode: one JSON string per input line -> one JSON array of ids per output line "
                "(with --decode: arrays in, strings out)");
  cmd->callback([opts, &exit_code] { exit_code = run_tokenize(*opts); });
}

}  // namespace verbatim::cli
