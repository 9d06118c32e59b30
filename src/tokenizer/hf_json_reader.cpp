#include "tokenizer/hf_json_reader.h"

#include "util/error.h"

namespace verbatim::hf {

namespace {

using json = nlohmann::json;
using Dom = nlohmann::detail::json_sax_dom_parser<json>;

class Reader final : public nlohmann::json_sax<json> {
 public:
  explicit Reader(TokenizerJson& out) : out_(out), dom_(out.root, false) {}
  const std::string& error() const { return error_; }

  bool null() override {
    return scalar([&] { return dom_.null(); }, "null");
  }
  bool boolean(bool v) override {
    return scalar([&] { return dom_.boolean(v); }, "a boolean");
  }
  bool number_float(number_float_t v, const string_t& s) override {
    return scalar([&] { return dom_.number_float(v, s); }, "a float");
  }
  bool binary(binary_t& v) override {
    return scalar([&] { return dom_.binary(v); }, "binary");
  }

  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::Vocab && depth_ == 0) return add_vocab(v);
    return scalar([&] { return dom_.number_integer(v); }, "an integer");
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::Vocab && depth_ == 0) {
      return add_vocab(v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v));
    }
    return scalar([&] { return dom_.number_unsigned(v); }, "an integer");
  }
  bool string(string_t& v) override {
    if (mode_ == Mode::Merges && depth_ == 0) {
      const size_t sp = v.find(' ');
      if (sp == std::string::npos) {
        return bad("model.merges[" + std::to_string(out_.merges.size()) + "]",
                   "'" + v + "' is not two pieces separated by a space");
      }
      out_.merges.emplace_back(v.substr(0, sp), v.substr(sp + 1));
      return true;
    }
    if (mode_ == Mode::Merges && depth_ == 1) {
      if (pair_.size() >= 2) return bad_merge_pair();
      pair_.push_back(std::move(v));
      return true;
    }
    return scalar([&] { return dom_.string(v); }, "a string");
  }

  bool start_object(std::size_t n) override {
    if (mode_ != Mode::None) return bad_nesting();
    if (at_model_key("vocab")) {
      mode_ = Mode::Vocab;
      depth_ = 0;
      out_.vocab_streamed = true;
      return dom_.start_object(0);  // an empty placeholder in the DOM
    }
    path_.push_back({true, {}});
    return dom_.start_object(n);
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::Vocab) {
      key_ = std::move(k);
      return true;
    }
    if (!path_.empty()) path_.back().key = k;
    return dom_.key(k);
  }
  bool end_object() override {
    if (mode_ == Mode::Vocab) {
      mode_ = Mode::None;
      return dom_.end_object();
    }
    if (!path_.empty()) path_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) override {
    if (mode_ == Mode::Merges && depth_ == 0) {
      depth_ = 1;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::None) return bad_nesting();
    if (at_model_key("merges")) {
      mode_ = Mode::Merges;
      depth_ = 0;
      out_.merges_streamed = true;
      return dom_.start_array(0);
    }
    path_.push_back({false, {}});
    return dom_.start_array(n);
  }
  bool end_array() override {
    if (mode_ == Mode::Merges) {
      if (depth_ == 1) {
        if (pair_.size() != 2) return bad_merge_pair();
        out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
        depth_ = 0;
        return true;
      }
      mode_ = Mode::None;
      return dom_.end_array();
    }
    if (!path_.empty()) path_.pop_back();
    return dom_.end_array();
  }
  bool parse_error(std::size_t pos, const std::string& token, const nlohmann::detail::exception& e) override {
    if (error_.empty()) error_ = "invalid JSON: " + std::string(e.what());
    (void)pos;
    (void)token;
    return false;
  }

 private:
  enum class Mode { None, Vocab, Merges };
  struct Level {
    bool is_object;
    std::string key;
  };

  bool at_model_key(const char* key) const {
    return path_.size() == 2 && path_[0].is_object && path_[0].key == "model" && path_[1].is_object &&
           path_[1].key == key;
  }
  template <typename F>
  bool scalar(F&& forward, const char* what) {
    if (mode_ == Mode::Vocab) return bad("model.vocab", "the id of '" + key_ + "' is " + what + ", not an integer");
    if (mode_ == Mode::Merges) return bad_merge_pair();
    return forward();
  }
  bool add_vocab(int64_t id) {
    out_.vocab.emplace_back(std::move(key_), id);
    return true;
  }
  bool bad_nesting() {
    return mode_ == Mode::Vocab ? bad("model.vocab", "the id of '" + key_ + "' is not an integer") : bad_merge_pair();
  }
  bool bad_merge_pair() {
    return bad("model.merges[" + std::to_string(out_.merges.size()) + "]", "must be \"a b\" or [\"a\", \"b\"]");
  }
  bool bad(const std::string& field, const std::string& what) {
    if (error_.empty()) error_ = field + ": " + what;
    return false;
  }

  TokenizerJson& out_;
  Dom dom_;
  std::vector<Level> path_;
  Mode mode_ = Mode::None;
  int depth_ = 0;
  std::string key_;
  std::vector<std::string> pair_;
  std::string error_;
};

}  // namespace

TokenizerJson read_tokenizer_json(std::string_view text, const std::string& where) {
  TokenizerJson out;
  Reader reader(out);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &reader);
  } catch (const json::exception& e) {
    fail(where, std::string("invalid JSON: ") + e.what());
  }
  if (!ok) fail(where, reader.error().empty() ? std::string("invalid JSON") : reader.error());
  return out;
}

}  // namespace verbatim::hf
