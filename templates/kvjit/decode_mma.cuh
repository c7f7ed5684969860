// Paged decode attention on tensor cores (sm_80+ mma.sync), for formats whose values are exact in f16.
//
// Why: with GQA every K/V element meets kHeadsPerCta query heads, so the CUDA-core body spends ~2 FMAs per
// head per element; for one-byte formats at full memory bandwidth that is more math than the SMs issue.
// Here a warp takes 16-token tiles; per tile S = Q K^T and O += P V are a few m16n8k16 MMAs and the
// per-element work is only the dequantization to f16 pairs.
//
// Grid, CTA ownership, splits and the end (decode_finish.cuh) are those of the CUDA-core body. Per warp
// and tile (g = lane / 4, t = lane % 4), with the head_dim order permuted so every lane loads contiguous
// bytes (a dot product does not care about the order of its terms, and the output undoes its permutation):
//   S (16 heads x 8 tokens, twice): A = Q with head g in row g (rows g+8 zero), B = K^T; lane (g, t) loads
//     K of tokens g and g+8, dims [t*HD/4, (t+1)*HD/4): k-step c uses its dims 4c..4c+3.
//   O^T (16 dims x 8 heads, HD/16 times): A = V^T, B = P^T. P^T's fragment is S's accumulator as is (lane
//     (g, t) holds head g, tokens 2t, 2t+1, 2t+8, 2t+9); lane (g, t) loads V of those tokens, dims
//     [g*HD/8, (g+1)*HD/8): m-tile j covers its dims 2j (row g) and 2j+1 (row g+8).
// The next tile's loads are issued before this tile's math when registers allow (kUnroll = 2).
#pragma once

#include "kvjit/decode_finish.cuh"
#include "kvjit/formats.cuh"
#include "kvjit/grid_dependency.cuh"
#include "kvjit/mma.cuh"
#include "kvjit/paging.cuh"

namespace kvjit {

template <class C>
struct MmaShape {
  typedef typename C::Format Fmt;
  static constexpr int HD = C::kHeadDim;
  static constexpr int kBytes = Fmt::kMmaElemBytes;
  static constexpr int kKDims = HD / 4;  // K slice of a lane
  static constexpr int kVDims = HD / 8;  // V slice of a lane
  static constexpr int kKWords = kKDims * kBytes / 4;
  static constexpr int kVWords = kVDims * kBytes / 4;
  static constexpr int kRowWords = HD * kBytes / 4;
  // Q's A-fragment words per k-step: an f16 pair each for rows g (2 words), or for bf16 caches a head and a
  // tail pair each (split_bf16x2: words 2, 3 are the tails).
  static constexpr int kQWords = Fmt::kMmaBf16 ? 4 : 2;
  static constexpr int kSteps = HD / 16;     // k-steps of S, m-tiles of O^T
  static constexpr int kQuads = kVDims / 4;  // 4-dim groups of the V slice (two m-tiles each)
  // q8: 32-element scale blocks touched by a K / V slice (slices never straddle a block boundary unless
  // they span whole blocks: head_dim is a power of two for q8).
  static constexpr int kKBlocks = kKDims >= 32 ? kKDims / 32 : 1;
  static constexpr int kVBlocks = kVDims >= 32 ? kVDims / 32 : 1;
  static_assert(Fmt::kMma, "format has no tensor-core path");
  static_assert(HD % 32 == 0 && HD <= 256, "tensor-core decode needs head_dim a multiple of 32, at most 256");
  static_assert(C::kHeadsPerCta <= 8, "tensor-core decode packs at most 8 heads");
  static_assert(!Fmt::kBlockScale || (HD & (HD - 1)) == 0, "q8 tensor-core decode needs a power-of-two head_dim");
};

// One lane's share of a 16-token tile, as loaded (tokens past the end are zeros).
template <class C>
struct MmaTile {
  typedef MmaShape<C> S;
  u32 k[2][S::kKWords];  // tokens g, g+8
  u32 v[4][S::kVWords];  // tokens 2t, 2t+1, 2t+8, 2t+9
  // Scales as loaded (see ScaleF16 in formats.cuh: converted where used, so the next tile's loads stay in flight).
  typedef typename C::Format::Scale Scale;
  Scale ks[4], vs[4];                            // int8: the row scales of tokens 2t, 2t+1, 2t+8, 2t+9
  Scale kb[2][S::kKBlocks], vb[4][S::kVBlocks];  // q8: the block scales of the K / V slices
};

template <class C, class Seq>
__device__ __forceinline__ void mma_load_tile(const Seq& seq, int tile, int t_end, int g, int t, MmaTile<C>& x) {
  typedef MmaShape<C> S;
  typedef typename C::Format Fmt;
  const u32* kc = static_cast<const u32*>(seq.base.k);
  const u32* vc = static_cast<const u32*>(seq.base.v);
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    const int token = tile + 8 * j + g;
    if (token < t_end) {
      const i64 row = seq.row(token);
      load_words(kc + row * S::kRowWords + t * S::kKWords, x.k[j]);
      if constexpr (Fmt::kBlockScale)
#pragma unroll
        for (int blk = 0; blk < S::kKBlocks; ++blk)
          x.kb[j][blk] = Fmt::load_scale(seq.base.k_scales, row, S::HD, (t * S::kKDims + 32 * blk) / 8);
    } else {
#pragma unroll
      for (int w = 0; w < S::kKWords; ++w) x.k[j][w] = 0u;
      if constexpr (Fmt::kBlockScale)
#pragma unroll
        for (int blk = 0; blk < S::kKBlocks; ++blk) x.kb[j][blk] = typename Fmt::Scale(0);
    }
  }
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int token = tile + 2 * t + (r & 1) + 8 * (r >> 1);
    if (token < t_end) {
      const i64 row = seq.row(token);
      load_words(vc + row * S::kRowWords + g * S::kVWords, x.v[r]);
      if constexpr (Fmt::kRowScale) {
        x.ks[r] = Fmt::load_scale(seq.base.k_scales, row, S::HD, 0);
        x.vs[r] = Fmt::load_scale(seq.base.v_scales, row, S::HD, 0);
      }
      if constexpr (Fmt::kBlockScale)
#pragma unroll
        for (int blk = 0; blk < S::kVBlocks; ++blk)
          x.vb[r][blk] = Fmt::load_scale(seq.base.v_scales, row, S::HD, (g * S::kVDims + 32 * blk) / 8);
    } else {
#pragma unroll
      for (int w = 0; w < S::kVWords; ++w) x.v[r][w] = 0u;
      if constexpr (Fmt::kRowScale) x.ks[r] = x.vs[r] = typename Fmt::Scale(0);
      if constexpr (Fmt::kBlockScale)
#pragma unroll
        for (int blk = 0; blk < S::kVBlocks; ++blk) x.vb[r][blk] = typename Fmt::Scale(0);
    }
  }
}

// K dims 4c..4c+3 of a lane's slice as the two f16 pairs of an MMA B fragment.
template <class C>
__device__ __forceinline__ void mma_k_pairs(const u32 (&k)[MmaShape<C>::kKWords], int c, u32& lo, u32& hi) {
  if constexpr (MmaShape<C>::kBytes == 1) {
    C::Format::to_f16x2(k[c], lo, hi);
  } else {
    lo = k[2 * c];
    hi = k[2 * c + 1];
  }
}

// V dims 4q..4q+3 of two tokens a, b as f16 pairs (a_d, b_d), d = 0..3.
template <class C>
__device__ __forceinline__ void mma_v_pairs(const u32 (&a)[MmaShape<C>::kVWords], const u32 (&b)[MmaShape<C>::kVWords],
                                            int q, u32 (&out)[4]) {
  if constexpr (MmaShape<C>::kBytes == 1) {
    C::Format::to_f16x2(prmt(a[q], b[q], 0x5140u), out[0], out[1]);  // bytes a0 b0 a1 b1
    C::Format::to_f16x2(prmt(a[q], b[q], 0x7362u), out[2], out[3]);  // bytes a2 b2 a3 b3
  } else {
    out[0] = prmt(a[2 * q], b[2 * q], 0x5410u);
    out[1] = prmt(a[2 * q], b[2 * q], 0x7632u);
    out[2] = prmt(a[2 * q + 1], b[2 * q + 1], 0x5410u);
    out[3] = prmt(a[2 * q + 1], b[2 * q + 1], 0x7632u);
  }
}

// A warp's online-softmax state: head g's max and (lane-partial) sum; O^T accumulators per m-tile.
template <class C>
struct MmaState {
  float m, l;
  float acc[MmaShape<C>::kSteps][4];
};

template <class C>
__device__ __forceinline__ void mma_tile_math(const DecodeParams& p, const MmaTile<C>& x,
                                              const u32 (&qa)[MmaShape<C>::kSteps][MmaShape<C>::kQWords], int tile, int t_end, int t,
                                              MmaState<C>& st) {
  typedef MmaShape<C> S;
  typedef typename C::Format Fmt;

  // S = Q K^T: s[j] holds head g, tokens tile + 8j + 2t + {0, 1} (rows g+8 are the zero heads).
  float s[2][4];
#pragma unroll
  for (int j = 0; j < 2; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) s[j][e] = 0.0f;
#pragma unroll
  for (int c = 0; c < S::kSteps; ++c) {
    const u32 a[4] = {qa[c][0], 0u, qa[c][1], 0u};
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      u32 b0, b1;
      mma_k_pairs<C>(x.k[j], c, b0, b1);
      if constexpr (Fmt::kBlockScale) {
        const typename Fmt::Scale sc = x.kb[j][S::kKDims >= 32 ? (4 * c) / 32 : 0];
        const u32 sc2 = Fmt::scale_f16x2(sc, sc);
        b0 = mul_f16x2(b0, sc2);
        b1 = mul_f16x2(b1, sc2);
      }
      mma_16816<Fmt::kMmaBf16>(s[j], a, b0, b1);
      if constexpr (Fmt::kMmaBf16) {
        const u32 a_tail[4] = {qa[c][2], 0u, qa[c][3], 0u};
        mma_16816<true>(s[j], a_tail, b0, b1);
      }
    }
  }

  // Scores in log2 units (q carries sm_scale * log2(e) unless soft-capped), masked past the end.
  float sc[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int j = r >> 1, e = r & 1;
    float v = s[j][e] * Fmt::kMmaPostScale;
    if constexpr (Fmt::kRowScale) v *= Fmt::scale_of(x.ks[r]);
    if (C::kSoftcap) v = soft_cap(v, p.softcap) * kLog2e;
    sc[r] = tile + 8 * j + 2 * t + e < t_end ? v : kNegBig;
  }
  float m_tile = fmax2(fmax2(sc[0], sc[1]), fmax2(sc[2], sc[3]));
  m_tile = fmax2(m_tile, shfl_xor(m_tile, 1));
  m_tile = fmax2(m_tile, shfl_xor(m_tile, 2));
  const float m_new = fmax2(st.m, m_tile);
  const float alpha = ex2(st.m - m_new);
  st.m = m_new;
  float pr[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) pr[r] = ex2(sc[r] - m_new);
  st.l = st.l * alpha + (pr[0] + pr[1]) + (pr[2] + pr[3]);

  // O^T's columns are heads 2t, 2t+1: their rescale factors live in lanes 8t and 8t + 4.
  const float alpha0 = shfl_idx(alpha, 8 * t), alpha1 = shfl_idx(alpha, 8 * t + 4);
#pragma unroll
  for (int i = 0; i < S::kSteps; ++i) {
    st.acc[i][0] *= alpha0;
    st.acc[i][1] *= alpha1;
    st.acc[i][2] *= alpha0;
    st.acc[i][3] *= alpha1;
  }

  // P^T as the B fragment; an int8 row's V scale rides on its probability.
  if constexpr (Fmt::kRowScale)
#pragma unroll
    for (int r = 0; r < 4; ++r) pr[r] *= Fmt::scale_of(x.vs[r]);
  u32 pb0, pb1, pt0 = 0u, pt1 = 0u;  // pt: the bf16 tails (bf16 caches only)
  if constexpr (Fmt::kMmaBf16) {
    split_bf16x2(pr[0], pr[1], pb0, pt0);
    split_bf16x2(pr[2], pr[3], pb1, pt1);
  } else {
    pb0 = pack_f16x2(pr[0], pr[1]);
    pb1 = pack_f16x2(pr[2], pr[3]);
  }

#pragma unroll
  for (int q = 0; q < S::kQuads; ++q) {
    u32 lo[4], hi[4];  // tokens (2t, 2t+1) and (2t+8, 2t+9), dims 4q..4q+3
    mma_v_pairs<C>(x.v[0], x.v[1], q, lo);
    mma_v_pairs<C>(x.v[2], x.v[3], q, hi);
    if constexpr (Fmt::kBlockScale) {
      const int blk = S::kVDims >= 32 ? (4 * q) / 32 : 0;
      const u32 s_lo = Fmt::scale_f16x2(x.vb[0][blk], x.vb[1][blk]),
                s_hi = Fmt::scale_f16x2(x.vb[2][blk], x.vb[3][blk]);
#pragma unroll
      for (int d = 0; d < 4; ++d) {
        lo[d] = mul_f16x2(lo[d], s_lo);
        hi[d] = mul_f16x2(hi[d], s_hi);
      }
    }
    const u32 a0[4] = {lo[0], lo[1], hi[0], hi[1]};  // m-tile 2q: dims 4q (row g), 4q+1 (row g+8)
    const u32 a1[4] = {lo[2], lo[3], hi[2], hi[3]};  // m-tile 2q+1: dims 4q+2, 4q+3
    mma_16816<Fmt::kMmaBf16>(st.acc[2 * q], a0, pb0, pb1);
    mma_16816<Fmt::kMmaBf16>(st.acc[2 * q + 1], a1, pb0, pb1);
    if constexpr (Fmt::kMmaBf16) {
      mma_16816<true>(st.acc[2 * q], a0, pt0, pt1);
      mma_16816<true>(st.acc[2 * q + 1], a1, pt0, pt1);
    }
  }
}

template <class C>
__device__ __forceinline__ void decode_mma_body(const DecodeParams& p) {
  typedef MmaShape<C> S;
  typedef typename C::Format Fmt;
  constexpr int HD = C::kHeadDim, H = C::kHeadsPerCta;
  constexpr int kChunks = C::kGqa / C::kHeadsPerCta;

  // A kernel whose CTA size each launch chooses (the plan's fit of the grid to the device's waves,
  // runtime/launch_plan.h) runs with blockDim's warps, at most C::kWarps, and its shared memory is the
  // launch's, sized for those warps (decode_dynamic_smem_bytes).
  DecodeSmem<C::kWarps, H, HD>& smem = DecodeSmemOf<C::kWarps, H, HD, C::kWarpsFromLaunch>::get();
  const int W = C::kWarpsFromLaunch ? static_cast<int>(blockDim.x >> 5) : C::kWarps;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int kv_head = blockIdx.x / kChunks, chunk = blockIdx.x % kChunks, b = blockIdx.y;
  const int num_q_heads = p.num_kv_heads * C::kGqa;
  const int q_head0 = kv_head * C::kGqa + chunk * H;
  wait_for_prior_grids<C::kGridDependency>();
  const typename C::Paging seq(p, b, kv_head);
  const SplitRange range(p, seq.len);

  // Q as the A fragments of S: head g, slice t, pre-scaled (see decode.cuh) and rounded to f16, clamped to
  // f16's range (a bf16 q could exceed it); for a bf16 cache split into bf16 head and tail pairs.
  u32 qa[S::kSteps][S::kQWords];
  {
    const float k_fold = Fmt::kTensorScaled ? p.k_scale : 1.0f;
    const float q_scale = C::kSoftcap ? p.sm_scale * k_fold : p.sm_scale * kLog2e * k_fold;
    u32 words[S::kKDims / 2];
    if (g < H) {
      const u32* src =
          static_cast<const u32*>(p.q) + ((static_cast<i64>(b) * num_q_heads + q_head0 + g) * HD + t * S::kKDims) / 2;
      load_words(src, words);
    } else {
#pragma unroll
      for (int i = 0; i < S::kKDims / 2; ++i) words[i] = 0u;
    }
#pragma unroll
    for (int c = 0; c < S::kSteps; ++c)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const u32 w = words[2 * c + half];
        float lo = C::QElem::to_f32(static_cast<u16>(w & 0xffffu)) * q_scale;
        float hi = C::QElem::to_f32(static_cast<u16>(w >> 16)) * q_scale;
        if constexpr (Fmt::kMmaBf16) {
          split_bf16x2(lo, hi, qa[c][half], qa[c][2 + half]);
        } else {
          lo = lo > 65504.0f ? 65504.0f : (lo < -65504.0f ? -65504.0f : lo);
          hi = hi > 65504.0f ? 65504.0f : (hi < -65504.0f ? -65504.0f : hi);
          qa[c][half] = pack_f16x2(lo, hi);
        }
      }
  }

  MmaState<C> st;
  st.m = kNegBig;
  st.l = 0.0f;
#pragma unroll
  for (int i = 0; i < S::kSteps; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) st.acc[i][e] = 0.0f;

  // Warps take tiles round robin; the bounds depend on the warp only, so every lane reaches every shuffle.
  const int stride = 16 * W;
  int tile = range.begin + 16 * warp;
  if (C::kUnroll >= 2) {
    MmaTile<C> cur;
    if (tile < range.end) mma_load_tile<C>(seq, tile, range.end, g, t, cur);
    for (; tile < range.end; tile += stride) {
      MmaTile<C> next;
      if (tile + stride < range.end) mma_load_tile<C>(seq, tile + stride, range.end, g, t, next);
      mma_tile_math<C>(p, cur, qa, tile, range.end, t, st);
      cur = next;
    }
  } else {
    for (; tile < range.end; tile += stride) {
      MmaTile<C> cur;
      mma_load_tile<C>(seq, tile, range.end, g, t, cur);
      mma_tile_math<C>(p, cur, qa, tile, range.end, t, st);
    }
  }

  // Hand the warp's state to the CTA merge: head g's (m, l) from lane t = 0; O^T element (dim, head).
  st.l += shfl_xor(st.l, 1);
  st.l += shfl_xor(st.l, 2);
  if (t == 0 && g < H) {
    smem.m[warp][g] = st.m;
    smem.l[warp][g] = st.l;
  }
#pragma unroll
  for (int i = 0; i < S::kSteps; ++i) {
    const int d = g * S::kVDims + 2 * i;
    if (2 * t < H) {
      smem.acc[warp][2 * t][d] = st.acc[i][0];
      smem.acc[warp][2 * t][d + 1] = st.acc[i][2];
    }
    if (2 * t + 1 < H) {
      smem.acc[warp][2 * t + 1][d] = st.acc[i][1];
      smem.acc[warp][2 * t + 1][d + 1] = st.acc[i][3];
    }
  }
  __syncthreads();

  const float out_scale = (Fmt::kTensorScaled ? p.v_scale : 1.0f) * Fmt::kMmaPostScale;
  allow_dependent_grids<C::kGridDependency>();
  // From head_dim 128 this body holds 142 registers and more: the split merge's early loads fit under them.
  finish_decode<typename C::QElem, (HD >= 128)>(p, smem, W, num_q_heads, q_head0, b, out_scale);
}

}  // namespace kvjit
