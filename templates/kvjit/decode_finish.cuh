// The end of a decode CTA, shared by both decode bodies (decode.cuh: CUDA cores; decode_mma.cuh: tensor
// cores): each warp has left its online-softmax state — per head max m, sum l and unnormalized output
// acc[head_dim] — in shared memory; merge the warps and write O (and LSE), or, with several splits, write
// this partition's partial state to the workspace and let the last CTA of a (sequence, kv head, chunk) to
// finish merge all partitions (log-sum-exp merge). Scores are in base 2.
#pragma once

#include "kvjit/params.cuh"
#include "kvjit/types.cuh"

namespace kvjit {

// Per-warp partial states: the decode bodies fill acc, m and l, then call finish_decode. acc comes last so a
// CTA of fewer than W warps may hold only its own warps' rows (decode_dynamic_smem_bytes, params.cuh).
template <int W, int H, int HD>
struct DecodeSmem {
  float m[W][H];
  float l[W][H];
  bool last;
  float acc[W][H][HD];
};
// The CTA's DecodeSmem: a static one, or (kDynamic) the launch's dynamic shared memory, whose size the host
// computes with decode_dynamic_smem_bytes.
template <int W, int H, int HD, bool kDynamic>
struct DecodeSmemOf {
  static __device__ __forceinline__ DecodeSmem<W, H, HD>& get() {
    __shared__ DecodeSmem<W, H, HD> smem;
    return smem;
  }
};
template <int W, int H, int HD>
struct DecodeSmemOf<W, H, HD, true> {
  struct BeforeAcc {  // DecodeSmem's fields before acc: its size is acc's offset (no offsetof without headers)
    float m[W][H];
    float l[W][H];
    bool last;
  };
  static_assert(sizeof(BeforeAcc) == decode_dynamic_smem_bytes(W, 0, H, HD) &&
                    sizeof(DecodeSmem<W, H, HD>) == decode_dynamic_smem_bytes(W, W, H, HD),
                "DecodeSmem and decode_dynamic_smem_bytes disagree");
  static __device__ __forceinline__ DecodeSmem<W, H, HD>& get() {
    extern __shared__ float dynamic_smem[];  // floats: DecodeSmem's alignment
    return *reinterpret_cast<DecodeSmem<W, H, HD>*>(dynamic_smem);
  }
};

// Workspace of a split launch, in floats: partial outputs [batch, num_q_heads, splits, head_dim], partial
// (max, sum) [batch, num_q_heads, splits, 2] from the start; one u32 counter per (sequence, grid x) counted
// back from the end, so a counter keeps its place (and its zero) whatever batch and splits the next launch
// uses. The host's workspace size (runtime/launch_plan.cpp) mirrors this.
struct SplitWorkspace {
  float* o;
  float* ml;
  u32* counters;
  __device__ __forceinline__ SplitWorkspace(const DecodeParams& p, int head_dim, int num_q_heads) {
    const i64 rows = static_cast<i64>(p.batch) * num_q_heads * p.num_splits;
    o = p.workspace;
    ml = o + rows * head_dim;
    counters = reinterpret_cast<u32*>(p.workspace) + p.workspace_words - 1;  // counter i at counters[-i]
  }
};

// Counts this CTA in after its partials: release orders the CTA's writes (every thread's, the barrier before
// it ordering them before this thread's atom) ahead of the count, acquire orders the merge's loads after it.
// One round trip: a fence by every thread, the atomic and a second fence measured 0.2-0.9 us slower a
// launch on an H100 (batch 1 and 16 x 4096).
__device__ __forceinline__ u32 atomic_add_acq_rel_gpu(u32* addr, u32 v) {
  u32 old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(addr), "r"(v) : "memory");
  return old;
}
// L2 loads: partials written by other SMs must not come from a stale L1 line. Volatile keeps them after
// the counting atomic; the merge below issues several before using any, so their latencies overlap.
__device__ __forceinline__ void ld_cg2(const float* p, float& a, float& b) {
  asm volatile("ld.global.cg.v2.f32 {%0, %1}, [%2];" : "=f"(a), "=f"(b) : "l"(p));
}
__device__ __forceinline__ void ld_cg4(const float* p, float (&v)[4]) {
  asm volatile("ld.global.cg.v4.f32 {%0, %1, %2, %3}, [%4];"
               : "=f"(v[0]), "=f"(v[1]), "=f"(v[2]), "=f"(v[3])
               : "l"(p));
}
// Zeros where `load` is false. Predicated inside the asm, so a batch of these stays one basic block: behind
// branches, the merge's 16 unrolled loads added ~150 ms to a cold compile (NVRTC 13), predicated ~50 ms.
__device__ __forceinline__ void ld_cg4_if(bool load, const float* p, float (&v)[4]) {
  asm volatile(
      "{\n .reg .pred q;\n setp.ne.b32 q, %5, 0;\n"
      " mov.b32 %0, 0;\n mov.b32 %1, 0;\n mov.b32 %2, 0;\n mov.b32 %3, 0;\n"
      " @q ld.global.cg.v4.f32 {%0, %1, %2, %3}, [%4];\n}"
      : "=f"(v[0]), "=f"(v[1]), "=f"(v[2]), "=f"(v[3])
      : "l"(p), "r"(static_cast<int>(load)));
}

// The CTA's merged state for output element (h, d): max, sum and unnormalized output over its `warps`
// warps (W, the shared memory's room, or fewer where the CTA size is the launch's: see finish_decode).
template <int W, int H, int HD>
__device__ __forceinline__ void merge_warps(const DecodeSmem<W, H, HD>& s, int warps, int h, int d, float* m_out,
                                            float* l_out, float* o_out) {
  float m_all = kNegBig;
#pragma unroll
  for (int w = 0; w < W; ++w)
    if (w < warps) m_all = fmax2(m_all, s.m[w][h]);
  float l_all = 0.0f, o = 0.0f;
#pragma unroll
  for (int w = 0; w < W; ++w)
    if (w < warps) {
      const float a = ex2(s.m[w][h] - m_all);
      l_all += s.l[w][h] * a;
      o += s.acc[w][h][d] * a;
    }
  *m_out = m_all;
  *l_out = l_all;
  *o_out = o;
}

// The last CTA of a split merges the partitions' states (log-sum-exp merge). Each partition's weight
// l_z 2^(m_z - m) / sum goes to shared memory first, one warp per head with a lane per partition, so each
// output element is then a dot product over independent loads. A thread takes 4 consecutive elements of a
// head (16-byte loads; head_dim is a multiple of 16 and each partial row starts 64-byte aligned) and keeps
// MergeLoads<kEarly>::kCount partitions' loads in flight: their L2 latencies overlap (one load after
// another, each waited for, cost ~0.5 µs per partition on an H100).
//
// kEarly: 16 loads in flight, the first batch issued before the weights are computed, so that latency
// overlaps theirs too; at batch 1 this merge is the launch's tail, the one CTA still running (1 x 32768
// 0.7-1.2 µs faster on an H100). Its 64 floats stay live through the weights' computation, which costs
// nothing where the decode body needs more registers anyway (the tensor-core body from head_dim 128: 142 and
// up) and took lighter kernels from 56-82 registers to 90-96, with fewer CTAs an SM. Otherwise: 8 loads in
// flight, each batch loaded where it is used.
template <bool kEarly>
struct MergeLoads {
  static constexpr int kCount = kEarly ? 16 : 8;
  static_assert(kMaxSplits % kCount == 0, "a batch past the last partition reads zero weights up to kMaxSplits");
};

template <int HD, int N>
__device__ __forceinline__ void load_partials(const float* part, int z0, int n, float (&x)[N][4]) {
#pragma unroll
  for (int j = 0; j < N; ++j)
    ld_cg4_if(z0 + j < n, part + static_cast<i64>(z0 + j) * HD, x[j]);
}

template <class QElem, bool kEarly, int W, int H, int HD>
__device__ __forceinline__ void merge_splits(const DecodeParams& p, DecodeSmem<W, H, HD>& s, int warps,
                                             const SplitWorkspace& ws, int num_q_heads, int q_head0, int b,
                                             float out_scale) {
  // A head's weights take a row of warps * HD floats: 4 warps (the fewest a CTA has) hold kMaxSplits from
  // head_dim 32.
  static_assert(4 * HD >= kMaxSplits, "the merge weights of a head must fit in its partial-output rows");
  const int n = p.num_splits;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  // Index idx is 4 consecutive dims of one head: its output row, and where its first partition's partial is.
  const auto row_of = [&](int idx) { return static_cast<i64>(b) * num_q_heads + q_head0 + idx / (HD / 4); };
  const auto part_of = [&](int idx) { return ws.o + row_of(idx) * n * HD + (idx % (HD / 4)) * 4; };
  typedef MergeLoads<kEarly> L;
  float x[L::kCount][4];
  if (kEarly && threadIdx.x < H * HD / 4) load_partials<HD>(part_of(threadIdx.x), 0, n, x);

  float* weights = &s.acc[0][0][0];  // [H][warps * HD]: the CTA's own rows; the partials were written out already
  float* m_head = &s.m[0][0];  // [H], merged max and sum per head (warp 0's slots, free by now)
  float* l_head = &s.l[0][0];
  for (int h = warp; h < H; h += warps) {
    const i64 first = (static_cast<i64>(b) * num_q_heads + q_head0 + h) * n;
    float mz[kMaxSplits / 32], lz[kMaxSplits / 32];
#pragma unroll
    for (int j = 0; j < kMaxSplits / 32; ++j) {
      mz[j] = kNegBig;
      lz[j] = 0.0f;
      if (lane + 32 * j < n) ld_cg2(ws.ml + (first + lane + 32 * j) * 2, mz[j], lz[j]);
    }
    float m = kNegBig;
#pragma unroll
    for (int j = 0; j < kMaxSplits / 32; ++j) m = fmax2(m, mz[j]);
#pragma unroll
    for (int off = 16; off > 0; off /= 2) m = fmax2(m, shfl_xor(m, off));
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxSplits / 32; ++j) {
      lz[j] *= ex2(mz[j] - m);
      sum += lz[j];
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2) sum += shfl_xor(sum, off);
    const float inv = sum > 0.0f ? div_full(1.0f, sum) : 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxSplits / 32; ++j)
      weights[h * (warps * HD) + lane + 32 * j] = lane + 32 * j < n ? lz[j] * inv : 0.0f;  // zeros: see below
    if (lane == 0) {
      m_head[h] = m;
      l_head[h] = sum;
    }
  }
  __syncthreads();
  const float neg_inf = bits_to_f32(0xff800000u);
  const auto write_output = [&](int idx, const float(&o)[4]) {
    const int h = idx / (HD / 4), d = (idx % (HD / 4)) * 4;
    const i64 q_row = row_of(idx);
    const float l = l_head[h];
#pragma unroll
    for (int e = 0; e < 4; ++e)
      static_cast<u16*>(p.o)[q_row * HD + d + e] = QElem::from_f32(l > 0.0f ? o[e] * out_scale : 0.0f);
    if (p.lse != nullptr && d == 0) p.lse[q_row] = l > 0.0f ? (m_head[h] + lg2(l)) * kLn2 : neg_inf;
  };
  if constexpr (!kEarly) {  // the merge as before the early loads: guarded, no loads across iterations
    for (int idx = threadIdx.x; idx < H * HD / 4; idx += warps * 32) {
      const float* part = part_of(idx);
      const float* w = weights + (idx / (HD / 4)) * (warps * HD);
      float o[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (int z0 = 0; z0 < n; z0 += L::kCount) {
#pragma unroll
        for (int j = 0; j < L::kCount; ++j)
          if (z0 + j < n) ld_cg4(part + static_cast<i64>(z0 + j) * HD, x[j]);
#pragma unroll
        for (int j = 0; j < L::kCount; ++j)
          if (z0 + j < n) {
            const float wz = w[z0 + j];
#pragma unroll
            for (int e = 0; e < 4; ++e) o[e] += x[j][e] * wz;
          }
      }
      write_output(idx, o);
    }
  } else {
    // (element, batch of partitions) pairs in order; the next pair's loads are issued before a finished
    // element's output is written.
    float o[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int idx = threadIdx.x, z0 = 0; idx < H * HD / 4;) {
      // Past the last partition x and w are zeros (w has kMaxSplits entries, a multiple of the batch).
      const float* w = weights + (idx / (HD / 4)) * (warps * HD) + z0;
#pragma unroll
      for (int j = 0; j < L::kCount; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[e] += x[j][e] * w[j];
      const int done = idx;
      z0 += L::kCount;
      if (z0 >= n) {
        idx += warps * 32;
        z0 = 0;
      }
      if (idx < H * HD / 4) load_partials<HD>(part_of(idx), z0, n, x);
      if (z0 == 0) {  // element `done` is complete
        write_output(done, o);
#pragma unroll
        for (int e = 0; e < 4; ++e) o[e] = 0.0f;
      }
    }
  }
}

// out_scale: the factor every output takes (per-tensor v_scale, the format's post-scale). kEarlyMerge: see MergeLoads.
// warps: the CTA's warps, at most W. A kernel whose CTA size is chosen per launch (Config::kWarpsFromLaunch)
// passes blockDim's and sizes the shared memory for the largest; elsewhere it is W, a constant, and the
// guards on it fold away.
// An empty sequence (or window) attends to nothing: its output is 0 and its LSE -inf.
template <class QElem, bool kEarlyMerge, int W, int H, int HD>
__device__ __forceinline__ void finish_decode(const DecodeParams& p, DecodeSmem<W, H, HD>& s, int warps,
                                              int num_q_heads, int q_head0, int b, float out_scale) {
  const float neg_inf = bits_to_f32(0xff800000u);
  if (p.num_splits == 1) {
    for (int idx = threadIdx.x; idx < H * HD; idx += warps * 32) {
      const int h = idx / HD, d = idx % HD;
      float m_all, l_all, o;
      merge_warps(s, warps, h, d, &m_all, &l_all, &o);
      const i64 q_row = static_cast<i64>(b) * num_q_heads + q_head0 + h;
      static_cast<u16*>(p.o)[q_row * HD + d] = QElem::from_f32(l_all > 0.0f ? div_full(o, l_all) * out_scale : 0.0f);
      if (p.lse != nullptr && d == 0) p.lse[q_row] = l_all > 0.0f ? (m_all + lg2(l_all)) * kLn2 : neg_inf;
    }
    return;
  }

  // Split: write this partition's normalized partial output and (max, sum).
  const int split = blockIdx.z;
  const SplitWorkspace ws(p, HD, num_q_heads);
  for (int idx = threadIdx.x; idx < H * HD; idx += warps * 32) {
    const int h = idx / HD, d = idx % HD;
    float m_all, l_all, o;
    merge_warps(s, warps, h, d, &m_all, &l_all, &o);
    const i64 part = (static_cast<i64>(b) * num_q_heads + q_head0 + h) * p.num_splits + split;
    ws.o[part * HD + d] = l_all > 0.0f ? div_full(o, l_all) : 0.0f;
    if (d == 0) {
      ws.ml[part * 2] = m_all;
      ws.ml[part * 2 + 1] = l_all;
    }
  }
  // Count this CTA in once every thread's partials are written; the last of the partitions merges.
  __syncthreads();
  u32* counter = ws.counters - (static_cast<i64>(b) * gridDim.x + blockIdx.x);
  if (threadIdx.x == 0) s.last = atomic_add_acq_rel_gpu(counter, 1u) == static_cast<u32>(p.num_splits - 1);
  __syncthreads();
  if (!s.last) return;
  merge_splits<QElem, kEarlyMerge>(p, s, warps, ws, num_q_heads, q_head0, b, out_scale);
  if (threadIdx.x == 0) *counter = 0u;  // ready for the next launch (graph replays included)
}

// The tokens [begin, end) of this CTA: the sequence's window, cut into num_splits parts of a multiple of 16
// tokens (a tensor-core tile) and of at least kMinSplitTokens, so a short sequence in a batch split for a long
// one takes few partitions (the rest are empty) and is computed much as without a split: partitions of a few
// tiles leave warps with other running maxima, and the tensor-core body's f16 rounding of the probabilities
// then differs from the unsplit launch's by up to 2.4e-4 relative (measured on an H100).
constexpr int kMinSplitTokens = 256;
struct SplitRange {
  int begin, end;
  __device__ __forceinline__ SplitRange(const DecodeParams& p, int len) {
    const int seq_begin = p.window > 0 && len > p.window ? len - p.window : 0;
    const int even = (((len - seq_begin + p.num_splits - 1) / p.num_splits) + 15) & ~15;
    const int per_split = even > kMinSplitTokens ? even : kMinSplitTokens;
    begin = seq_begin + blockIdx.z * per_split;
    end = begin + per_split < len ? begin + per_split : len;
  }
};

// score = softcap * tanh(raw / softcap), tanh from ex2 (tanh.approx is too coarse for a 1e-3 budget).
__device__ __forceinline__ float soft_cap(float raw, float cap) {
  const float e = ex2(2.0f * kLog2e * div_full(raw, cap));
  return cap * (1.0f - div_full(2.0f, e + 1.0f));  // e = inf: the cap, as tanh(inf) = 1
}

}  // namespace kvjit
