// The "model" of the toy engine, computed on the host. kvjit provides attention kernels only, and this example
// builds without nvcc, so there are no GPU kernels here for embeddings or projections. Instead every
// token's query, key and value for every layer are precomputed once from random embeddings and random
// projection matrices, and a decode step looks them up and uploads them. Unlike a real model, a layer's
// q/k/v therefore do not depend on the layer below (nor on the position: no RoPE); the attention work each
// step is the real thing: append to a paged int8 cache, then decode over everything cached so far.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace toy {

struct ModelShape {
  int layers = 4;
  int kv_heads = 8;
  int gqa = 4;
  int head_dim = 128;
  int vocab = 128;
  int embed = 64;  // width of the random token embeddings the projections read
  int q_heads() const { return kv_heads * gqa; }
  int q_size() const { return q_heads() * head_dim; }
  int kv_size() const { return kv_heads * head_dim; }
};

uint16_t f32_to_f16(float x);  // round to nearest even
float f16_to_f32(uint16_t h);

class ToyModel {
 public:
  ToyModel(const ModelShape& shape, uint32_t seed);
  const ModelShape& shape() const { return shape_; }

  // f16 bits of one token's q [q_heads, head_dim] and k, v [kv_heads, head_dim] at `layer`.
  const uint16_t* q(int layer, int token) const { return &q_[index(layer, token) * shape_.q_size()]; }
  const uint16_t* k(int layer, int token) const { return &k_[index(layer, token) * shape_.kv_size()]; }
  const uint16_t* v(int layer, int token) const { return &v_[index(layer, token) * shape_.kv_size()]; }

  // Greedy next token from one sequence's last-layer attention output (f16 bits, [q_heads, head_dim]):
  // the argmax of a random projection of its first head.
  int next_token(const uint16_t* attention_out) const;

 private:
  size_t index(int layer, int token) const { return static_cast<size_t>(layer) * shape_.vocab + token; }
  ModelShape shape_;
  std::vector<uint16_t> q_, k_, v_;
  std::vector<float> unembed_;  // [vocab, head_dim]
};

}  // namespace toy
