#include "engine/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "kernels/common/philox.h"
#include "kernels/cpu/argmax.h"
#include "kernels/cpu/log_softmax.h"
#include "util/error.h"

namespace verbatim {

namespace kc = kernels::cpu;

void SamplingParams::validate() const {
  if (!(std::isfinite(temperature) && temperature >= 0.0f))
    fail("temperature", "must be finite and >= 0 (got " + std::to_string(temperature) + ")");
  if (top_k < 0) fail("top_k", "must be >= 0, 0 meaning off (got " + std::to_string(top_k) + ")");
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail("top_p", "must be in (0, 1] (got " + std::to_string(top_p) + ")");
  if (!(min_p >= 0.0f && min_p <= 1.0f)) fail("min_p", "must be in [0, 1] (got " + std::to_string(min_p) + ")");
  if (top_logprobs < 0 || top_logprobs > kMaxTopLogprobs)
    fail("top_logprobs",
         "must be in [0, " + std::to_string(kMaxTopLogprobs) + "] (got " + std::to_string(top_logprobs) + ")");
}

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Candidate {
  double value;  // z (before the softmax) or p (after)
  int32_t id;
};

// The sorted order: value descending, id ascending. A strict total order, since ids are distinct.
bool before(const Candidate& a, const Candidate& b) {
  return a.value > b.value || (a.value == b.value && a.id < b.id);
}

bool by_id(const Candidate& a, const Candidate& b) {
  return a.id < b.id;
}

// Candidates in sorted order, materialized lazily: at(i) sorts the next chunk (nth_element + sort) when needed.
class LazySorted {
 public:
  explicit LazySorted(std::vector<Candidate> c) : c_(std::move(c)) {}
  size_t size() const { return c_.size(); }
  const Candidate& at(size_t i) {
    if (i >= sorted_) extend(i + 1);
    return c_[i];
  }

 private:
  void extend(size_t need) {
    const size_t end = std::min(c_.size(), std::max({need, 2 * sorted_, size_t{64}}));
    auto first = c_.begin() + static_cast<std::ptrdiff_t>(sorted_);
    auto mid = c_.begin() + static_cast<std::ptrdiff_t>(end);
    if (mid != c_.end()) std::nth_element(first, mid, c_.end(), before);  // [first, mid): the next smallest
    std::sort(first, mid, before);
    sorted_ = end;
  }

  std::vector<Candidate> c_;
  size_t sorted_ = 0;  // c_[0, sorted_) is in final sorted position
};

// Steps 2-8 of the header, for temperature > 0. raw: sanitized logits, not all -inf.
int32_t sample_filtered(const std::vector<float>& raw, const SamplingParams& params, uint64_t token_index) {
  const double temperature = params.temperature;

  // 2. z = logit / T, ascending id order.
  std::vector<Candidate> kept;  // [candidates] ascending id order
  kept.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i)
    if (raw[i] > kNegInf) kept.push_back({static_cast<double>(raw[i]) / temperature, static_cast<int32_t>(i)});

  // 3. top-k.
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < kept.size()) {
    std::nth_element(kept.begin(), kept.begin() + params.top_k, kept.end(), before);
    kept.resize(static_cast<size_t>(params.top_k));
    std::sort(kept.begin(), kept.end(), by_id);
  }

  // 4. Softmax over the candidates, sums in ascending id order; z becomes p in place.
  double max_z = kept[0].value;
  for (const Candidate& c : kept) max_z = std::max(max_z, c.value);
  double sum = 0.0;
  for (Candidate& c : kept) {
    c.value = std::exp(c.value - max_z);
    sum += c.value;
  }
  double max_p = 0.0;
  for (Candidate& c : kept) {
    c.value = c.value / sum;
    max_p = std::max(max_p, c.value);
  }

  // 7 (applied first: it keeps a sorted prefix, as 6 does, so the two commute) and the p == 0 rule of 4.
  const double min_keep = static_cast<double>(params.min_p) * max_p;
  std::erase_if(kept, [&](const Candidate& c) { return c.value == 0.0 || c.value < min_keep; });

  // 5, 6. The sorted order and the top-p prefix [0, n_keep).
  LazySorted sorted(kept);
  size_t n_keep = sorted.size();
  if (params.top_p < 1.0f) {
    const double top_p = params.top_p;
    double cumulative = 0.0;
    for (size_t i = 0; i < sorted.size(); ++i) {
      cumulative += sorted.at(i).value;
      if (cumulative >= top_p) {
        n_keep = i + 1;
        break;
      }
    }
  }

  // 8. The kept mass in ascending id order: the members of the sorted prefix are the candidates that do not come
  // after its last element.
  const Candidate last = sorted.at(n_keep - 1);
  double mass = 0.0;
  for (const Candidate& c : kept)
    if (n_keep == kept.size() || !before(last, c)) mass += c.value;

  const double target = philox_uniform(params.seed, token_index) * mass;
  double cumulative = 0.0;
  for (size_t i = 0; i < n_keep; ++i) {
    const Candidate& c = sorted.at(i);
    cumulative += c.value;
    if (target < cumulative) return c.id;
  }
  return last.id;
}

// Step 0: the sanitized logits [vocab]; Error when there is nothing to sample from.
std::vector<float> sanitized(std::span<const float> logits) {
  if (logits.empty()) fail("logits", "empty");
  if (logits.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) fail("logits", "vocabulary too large");
  std::vector<float> raw(logits.size());
  int any_finite = 0;  // branch-free, so that the loop vectorizes: NaN -> -inf, +inf -> FLT_MAX, else x
  for (size_t i = 0; i < raw.size(); ++i) {
    const float x = logits[i];
    const float r = x != x ? kNegInf : x == std::numeric_limits<float>::infinity() ? FLT_MAX : x;
    raw[i] = r;
    any_finite |= r > kNegInf;
  }
  if (any_finite == 0) fail("logits", "every logit is -inf or NaN");
  return raw;
}

}  // namespace

SampledToken sample(std::span<const float> logits, const SamplingParams& params, uint64_t token_index) {
  params.validate();
  const std::vector<float> raw = sanitized(logits);  // [vocab]
  const int64_t n = static_cast<int64_t>(raw.size());

  SampledToken out;
  if (params.temperature == 0.0f) {
    out.token = static_cast<int32_t>(kc::argmax(raw.data(), n));
  } else {
    out.token = sample_filtered(raw, params, token_index);
  }

  const double lse = kc::logsumexp(raw.data(), n);
  out.logprob = kc::logprob_from_lse(raw[out.token], lse);
  if (params.top_logprobs > 0) {
    std::vector<float> logprobs(raw.size());  // [vocab]
    for (size_t i = 0; i < raw.size(); ++i) logprobs[i] = kc::logprob_from_lse(raw[i], lse);
    std::vector<int32_t> ids(raw.size());  // [vocab]
    std::iota(ids.begin(), ids.end(), 0);
    const size_t k = std::min(static_cast<size_t>(params.top_logprobs), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(), [&](int32_t a, int32_t b) {
      return logprobs[a] > logprobs[b] || (logprobs[a] == logprobs[b] && a < b);
    });
    out.top.reserve(k);
    for (size_t i = 0; i < k; ++i) out.top.emplace_back(ids[i], logprobs[ids[i]]);
  }
  return out;
}

float token_logprob(std::span<const float> logits, int32_t token) {
  const std::vector<float> raw = sanitized(logits);  // [vocab]
  if (token < 0 || static_cast<size_t>(token) >= raw.size())
    fail("token", std::to_string(token) + " outside the vocabulary [0, " + std::to_string(raw.size()) + ")");
  const double lse = kc::logsumexp(raw.data(), static_cast<int64_t>(raw.size()));
  return kc::logprob_from_lse(raw[token], lse);
}

}  // namespace verbatim
