#include "toy_model.h"

#include <cmath>
#include <cstring>
#include <random>

namespace toy {

uint16_t f32_to_f16(float x) {
  uint32_t f;
  std::memcpy(&f, &x, 4);
  const uint32_t sign = (f >> 16) & 0x8000u;
  f &= 0x7fffffffu;
  if (f > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);   // NaN
  if (f >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to infinity
  if (f < 0x38800000u) {                                               // f16 subnormal or zero
    float a;
    std::memcpy(&a, &f, 4);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));
  }
  const uint32_t rounded = f + 0xfffu + ((f >> 13) & 1u);  // round to nearest even at bit 13
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  float out;
  if (exp == 0) {
    out = std::ldexp(static_cast<float>(man), -24);
    return sign ? -out : out;
  }
  const uint32_t bits = sign | (exp == 31 ? 0x7f800000u | (man << 13) : ((exp + 112u) << 23) | (man << 13));
  std::memcpy(&out, &bits, 4);
  return out;
}

namespace {

// rows x embed random matrix times each token's embedding, scaled so that outputs are about N(0, 1).
std::vector<uint16_t> project(const std::vector<float>& embeddings, int vocab, int embed, int rows, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(embed)));
  std::vector<float> w(static_cast<size_t>(rows) * embed);
  for (float& x : w) x = normal(rng);
  std::vector<uint16_t> out(static_cast<size_t>(vocab) * rows);
  for (int t = 0; t < vocab; ++t)
    for (int r = 0; r < rows; ++r) {
      float acc = 0.0f;
      for (int e = 0; e < embed; ++e)
        acc += w[static_cast<size_t>(r) * embed + e] * embeddings[static_cast<size_t>(t) * embed + e];
      out[static_cast<size_t>(t) * rows + r] = f32_to_f16(acc);
    }
  return out;
}

void append_to(std::vector<uint16_t>& all, const std::vector<uint16_t>& layer) {
  all.insert(all.end(), layer.begin(), layer.end());
}

}  // namespace

ToyModel::ToyModel(const ModelShape& shape, uint32_t seed) : shape_(shape) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> embeddings(static_cast<size_t>(shape.vocab) * shape.embed);
  for (float& x : embeddings) x = normal(rng);
  for (int layer = 0; layer < shape.layers; ++layer) {
    append_to(q_, project(embeddings, shape.vocab, shape.embed, shape.q_size(), rng));
    append_to(k_, project(embeddings, shape.vocab, shape.embed, shape.kv_size(), rng));
    append_to(v_, project(embeddings, shape.vocab, shape.embed, shape.kv_size(), rng));
  }
  unembed_.resize(static_cast<size_t>(shape.vocab) * shape.head_dim);
  for (float& x : unembed_) x = normal(rng);
}

int ToyModel::next_token(const uint16_t* attention_out) const {
  int best = 0;
  float best_logit = -INFINITY;
  for (int t = 0; t < shape_.vocab; ++t) {
    float logit = 0.0f;
    for (int d = 0; d < shape_.head_dim; ++d)
      logit += unembed_[static_cast<size_t>(t) * shape_.head_dim + d] * f16_to_f32(attention_out[d]);
    if (logit > best_logit) {
      best_logit = logit;
      best = t;
    }
  }
  return best;
}

}  // namespace toy
