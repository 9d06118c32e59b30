#include "forward_tiny_model.h"

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>

#include "util/half.h"

namespace verbatim::testing {

namespace {

// f32 -> f16 by truncating the mantissa (tiny values flush to zero). Any f16 value serves, since the f32 twin of a
// model is built from the stored bits.
uint16_t f32_to_f16_truncate(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const int exp = static_cast<int>((bits >> 23) & 0xffu) - 127 + 15;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | ((bits >> 13) & 0x3ffu));
}

Tensor store(Model& m, const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values,
             DType dtype) {
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (dtype == DType::F32) {
    auto buf = std::make_shared<std::vector<float>>(values);
    t.data = buf->data();
    m.storage.push_back(buf);
  } else {
    auto buf = std::make_shared<std::vector<uint16_t>>();
    for (float v : values) buf->push_back(dtype == DType::BF16 ? f32_to_bf16(v) : f32_to_f16_truncate(v));
    t.data = buf->data();
    m.storage.push_back(buf);
  }
  return t;
}

class Filler {
 public:
  Filler(Model& m, DType dtype, uint64_t seed) : m_(m), dtype_(dtype), rng_(seed) {}
  Tensor uniform(const std::string& name, std::vector<int64_t> shape, float lo, float hi) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng_);
    return store(m_, name, std::move(shape), v, dtype_);
  }
  // A linear layer [out, in], uniform in +-sqrt(3 / in): unit-variance inputs give unit-variance outputs.
  Tensor linear(const std::string& name, int64_t out, int64_t in) {
    const float a = std::sqrt(3.0f / static_cast<float>(in));
    return uniform(name, {out, in}, -a, a);
  }

 private:
  Model& m_;
  DType dtype_;
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<Model> make_tiny_model(const TinySpec& s) {
  auto m = std::make_unique<Model>();
  ModelConfig& c = m->config;
  c.arch = s.arch;
  c.dim = s.dim;
  c.hidden_dim = s.hidden_dim;
  c.n_layers = s.n_layers;
  c.n_heads = s.n_heads;
  c.n_kv_heads = s.n_kv_heads;
  c.head_dim = s.head_dim;
  c.vocab_size = s.vocab_size;
  c.max_seq_len = s.max_seq_len;
  c.rope_theta = s.rope_theta;
  c.rope_scaling = s.rope_scaling;
  c.norm_eps = 1e-5f;
  c.tie_embeddings = s.tied;
  c.attn_qkv_bias = s.qkv_bias;
  c.qk_norm = s.qk_norm;
  c.bos_id = 1;
  c.eos_ids = {2};
  m->path = "<tiny " + s.label + ">";

  Filler f(*m, s.dtype, s.seed);
  ModelWeights& w = m->weights;
  const int64_t q_dim = c.q_dim(), kv_dim = c.kv_dim();
  w.tok_embeddings = f.uniform("tok_embeddings", {s.vocab_size, s.dim}, -1.0f, 1.0f);
  for (int l = 0; l < s.n_layers; ++l) {
    LayerWeights L;
    const std::string p = "layers." + std::to_string(l) + ".";
    L.attn_norm = f.uniform(p + "attn_norm", {s.dim}, 0.8f, 1.2f);
    L.wq = f.linear(p + "wq", q_dim, s.dim);
    L.wk = f.linear(p + "wk", kv_dim, s.dim);
    L.wv = f.linear(p + "wv", kv_dim, s.dim);
    L.wo = f.linear(p + "wo", s.dim, q_dim);
    if (s.qkv_bias) {
      L.bq = f.uniform(p + "bq", {q_dim}, -0.5f, 0.5f);
      L.bk = f.uniform(p + "bk", {kv_dim}, -0.5f, 0.5f);
      L.bv = f.uniform(p + "bv", {kv_dim}, -0.5f, 0.5f);
    }
    if (s.qk_norm) {
      L.q_norm = f.uniform(p + "q_norm", {s.head_dim}, 0.5f, 1.5f);
      L.k_norm = f.uniform(p + "k_norm", {s.head_dim}, 0.5f, 1.5f);
    }
    L.ffn_norm = f.uniform(p + "ffn_norm", {s.dim}, 0.8f, 1.2f);
    L.w_gate = f.linear(p + "w_gate", s.hidden_dim, s.dim);
    L.w_up = f.linear(p + "w_up", s.hidden_dim, s.dim);
    L.w_down = f.linear(p + "w_down", s.dim, s.hidden_dim);
    w.layers.push_back(std::move(L));
  }
  w.final_norm = f.uniform("final_norm", {s.dim}, 0.8f, 1.2f);
  w.lm_head = s.tied ? w.tok_embeddings : f.linear("lm_head", s.vocab_size, s.dim);
  return m;
}

std::unique_ptr<Model> to_f32_model(const Model& src) {
  auto m = std::make_unique<Model>();
  m->config = src.config;
  m->path = src.path + " (f32)";
  auto convert = [&](const Tensor& t) {
    if (t.empty()) return Tensor{};
    std::vector<float> v(t.numel());
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.at(i);
    return store(*m, t.name, t.shape, v, DType::F32);
  };
  ModelWeights& w = m->weights;
  w.tok_embeddings = convert(src.weights.tok_embeddings);
  for (const LayerWeights& S : src.weights.layers) {
    LayerWeights L;
    for (auto member :
         {&LayerWeights::attn_norm, &LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
          &LayerWeights::bq, &LayerWeights::bk, &LayerWeights::bv, &LayerWeights::q_norm, &LayerWeights::k_norm,
          &LayerWeights::ffn_norm, &LayerWeights::w_gate, &LayerWeights::w_up, &LayerWeights::w_down})
      L.*member = convert(S.*member);
    w.layers.push_back(std::move(L));
  }
  w.final_norm = convert(src.weights.final_norm);
  const bool tied = src.weights.lm_head.data == src.weights.tok_embeddings.data;
  w.lm_head = tied ? w.tok_embeddings : convert(src.weights.lm_head);
  return m;
}

namespace {

using Vec = std::vector<double>;

Vec linear(const Tensor& w, const Tensor& bias, const Vec& x) {
  const int64_t out = w.shape[0], in = w.shape[1];
  Vec y(out, 0.0);
  for (int64_t r = 0; r < out; ++r) {
    double acc = 0.0;
    for (int64_t c = 0; c < in; ++c) acc += static_cast<double>(w.at(r * in + c)) * x[c];
    y[r] = acc + (bias.empty() ? 0.0 : static_cast<double>(bias.at(r)));
  }
  return y;
}

// RMSNorm of x[offset, offset + n) in place, weight [n].
void rmsnorm(Vec& x, int64_t offset, int64_t n, const Tensor& w, double eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += x[offset + i] * x[offset + i];
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) x[offset + i] = x[offset + i] * inv * w.at(i);
}

// HF's inverse frequencies, in double from the formulas.
Vec inv_freq(const ModelConfig& c) {
  Vec f(c.head_dim / 2);
  for (int i = 0; i < c.head_dim / 2; ++i)
    f[i] = 1.0 / std::pow(static_cast<double>(c.rope_theta), 2.0 * i / c.head_dim);
  const RopeScaling& s = c.rope_scaling;
  if (s.type == RopeScaling::Type::Linear) {
    for (double& v : f) v /= s.factor;
  } else if (s.type == RopeScaling::Type::Llama3) {
    const double old_ctx = s.original_max_position_embeddings;
    for (double& v : f) {
      const double wavelen = 2.0 * std::numbers::pi / v;
      if (wavelen < old_ctx / s.high_freq_factor) continue;
      if (wavelen > old_ctx / s.low_freq_factor) {
        v /= s.factor;
        continue;
      }
      const double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      v = (1.0 - smooth) * v / s.factor + smooth * v;
    }
  }
  return f;
}

void rope(Vec& x, int n_heads, int head_dim, const Vec& freq, int pos) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    double* v = x.data() + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      const double angle = pos * freq[i], a = v[i], b = v[i + half];
      v[i] = a * std::cos(angle) - b * std::sin(angle);
      v[i + half] = b * std::cos(angle) + a * std::sin(angle);
    }
  }
}

}  // namespace

std::vector<std::vector<double>> naive_forward(const Model& m, const std::vector<int32_t>& tokens) {
  const ModelConfig& c = m.config;
  const ModelWeights& w = m.weights;
  const size_t T = tokens.size();
  const int hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
  const Vec freq = inv_freq(c);
  const Tensor none;
  std::vector<Vec> x(T, Vec(c.dim));
  for (size_t t = 0; t < T; ++t)
    for (int i = 0; i < c.dim; ++i) x[t][i] = w.tok_embeddings.at(static_cast<int64_t>(tokens[t]) * c.dim + i);
  for (const LayerWeights& L : w.layers) {
    std::vector<Vec> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      Vec h = x[t];
      rmsnorm(h, 0, c.dim, L.attn_norm, c.norm_eps);
      q[t] = linear(L.wq, c.attn_qkv_bias ? L.bq : none, h);
      k[t] = linear(L.wk, c.attn_qkv_bias ? L.bk : none, h);
      v[t] = linear(L.wv, c.attn_qkv_bias ? L.bv : none, h);
      if (c.qk_norm) {
        for (int hh = 0; hh < c.n_heads; ++hh) rmsnorm(q[t], hh * hd, hd, L.q_norm, c.norm_eps);
        for (int hh = 0; hh < c.n_kv_heads; ++hh) rmsnorm(k[t], hh * hd, hd, L.k_norm, c.norm_eps);
      }
      rope(q[t], c.n_heads, hd, freq, static_cast<int>(t));
      rope(k[t], c.n_kv_heads, hd, freq, static_cast<int>(t));
    }
    for (size_t t = 0; t < T; ++t) {
      Vec att(c.q_dim(), 0.0);
      for (int h = 0; h < c.n_heads; ++h) {
        const int kv = (h / group) * hd;
        Vec s(t + 1);
        double max = -1e300, sum = 0.0;
        for (size_t u = 0; u <= t; ++u) {
          double dot = 0.0;
          for (int i = 0; i < hd; ++i) dot += q[t][h * hd + i] * k[u][kv + i];
          s[u] = dot / std::sqrt(static_cast<double>(hd));
          max = std::max(max, s[u]);
        }
        for (double& e : s) sum += e = std::exp(e - max);
        for (size_t u = 0; u <= t; ++u)
          for (int i = 0; i < hd; ++i) att[h * hd + i] += s[u] / sum * v[u][kv + i];
      }
      const Vec o = linear(L.wo, none, att);
      for (int i = 0; i < c.dim; ++i) x[t][i] += o[i];
    }
    for (size_t t = 0; t < T; ++t) {
      Vec h = x[t];
      rmsnorm(h, 0, c.dim, L.ffn_norm, c.norm_eps);
      const Vec g = linear(L.w_gate, none, h), u = linear(L.w_up, none, h);
      Vec a(c.hidden_dim);
      for (int i = 0; i < c.hidden_dim; ++i) a[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      const Vec d = linear(L.w_down, none, a);
      for (int i = 0; i < c.dim; ++i) x[t][i] += d[i];
    }
  }
  std::vector<Vec> logits(T);
  for (size_t t = 0; t < T; ++t) {
    Vec h = x[t];
    rmsnorm(h, 0, c.dim, w.final_norm, c.norm_eps);
    logits[t] = linear(w.lm_head, none, h);
  }
  return logits;
}

}  // namespace verbatim::testing
