"""Helpers of the GPU tests: random paging, caches in every format, a torch quantizer that follows
docs/FORMATS.md to the bit, dequantization, and attention in float64 on the dequantized cache."""

from __future__ import annotations

import math
import random

import torch

import kvjit

DEVICE = "cuda"
Q_DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}
CACHE_DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "int8": torch.int8, "q8": torch.int8,
                "e4m3": torch.uint8, "e5m2": torch.uint8}
FP8_DTYPES = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
# Per-tensor scales that put N(0, 1) data well inside the FP8 range (and away from torch's NaN-on-overflow).
TENSOR_SCALES = {"e4m3": (0.02, 0.03), "e5m2": (0.02, 0.03)}


def scale_columns(spec: kvjit.Spec) -> int:
    return {"int8": 1, "q8": spec.head_dim // 32}.get(spec.kv, 0)


def rel_l2(got: torch.Tensor, want: torch.Tensor) -> float:
    got, want = got.double(), want.double()
    return float((got - want).norm() / max(float(want.norm()), 1e-30))


class Paging:
    """Sequences of the given lengths on shuffled physical pages, in block-table and CSR form, plus the
    slot of every token (sequence-major) for append."""

    def __init__(self, seq_lens, page_size, seed=0, spare_pages=3, capacity=None):
        rng = random.Random(seed)
        self.seq_lens_list = list(seq_lens)
        self.page_size = page_size
        capacity = capacity or seq_lens
        counts = [math.ceil(max(c, n) / page_size) for c, n in zip(capacity, seq_lens)]
        self.num_pages = sum(counts) + spare_pages
        ids = list(range(self.num_pages))
        rng.shuffle(ids)
        self.pages, start = [], 0
        for c in counts:
            self.pages.append(ids[start:start + c])
            start += c
        width = max(1, max(counts))
        table = [p + [-1] * (width - len(p)) for p in self.pages]
        self.block_table = torch.tensor(table, dtype=torch.int32, device=DEVICE)
        self.seq_lens = torch.tensor(self.seq_lens_list, dtype=torch.int32, device=DEVICE)
        used = [math.ceil(n / page_size) for n in seq_lens]
        self.indptr = torch.tensor([0] + list(_cumsum(used)), dtype=torch.int32, device=DEVICE)
        self.indices = torch.tensor([p for pages, u in zip(self.pages, used) for p in pages[:u]] or [0],
                                    dtype=torch.int32, device=DEVICE)
        self.last_page_len = torch.tensor([n - (u - 1) * page_size if u else 0 for n, u in zip(seq_lens, used)],
                                          dtype=torch.int32, device=DEVICE)
        self.slot_mapping = torch.tensor([self.slot(b, t) for b, n in enumerate(seq_lens) for t in range(n)],
                                         dtype=torch.int64, device=DEVICE)

    def slot(self, seq: int, position: int) -> int:
        return self.pages[seq][position // self.page_size] * self.page_size + position % self.page_size

    def decode_kwargs(self, paging: str) -> dict:
        if paging == "table":
            return dict(block_table=self.block_table, seq_lens=self.seq_lens)
        return dict(indptr=self.indptr, indices=self.indices, last_page_len=self.last_page_len)


def _cumsum(values):
    total = 0
    for v in values:
        total += v
        yield total


class Cache:
    """Paged K and V caches of a spec (zeroed), their scale pools and per-tensor scales."""

    def __init__(self, spec: kvjit.Spec, num_pages: int, kv_heads: int):
        self.spec = spec
        p, h, d = spec.page_size, kv_heads, spec.head_dim
        self.shape = (num_pages, p, h, d) if spec.layout == "nhd" else (num_pages, h, p, d)
        self.k = torch.zeros(self.shape, dtype=CACHE_DTYPES[spec.kv], device=DEVICE)
        self.v = torch.zeros_like(self.k)
        cols = scale_columns(spec)
        self.k_scales = self.v_scales = None
        if cols:
            scale_shape = self.shape[:3] + ((cols,) if cols > 1 else ())
            self.k_scales = torch.zeros(scale_shape, dtype=torch.float16, device=DEVICE)
            self.v_scales = torch.zeros_like(self.k_scales)
        self.k_scale, self.v_scale = TENSOR_SCALES.get(spec.kv, (1.0, 1.0))

    def kwargs(self) -> dict:
        out = dict(k_cache=self.k, v_cache=self.v, k_scale=self.k_scale, v_scale=self.v_scale)
        if self.k_scales is not None:
            out.update(k_scales=self.k_scales, v_scales=self.v_scales)
        return out

    def dequantized(self, key: bool) -> torch.Tensor:
        """The cache as float64, in its own shape (FORMATS.md, "value of element d of a row")."""
        data, scales = (self.k, self.k_scales) if key else (self.v, self.v_scales)
        tensor_scale = self.k_scale if key else self.v_scale
        kv = self.spec.kv
        if kv in ("f16", "bf16"):
            return data.double()
        if kv in FP8_DTYPES:
            return data.view(FP8_DTYPES[kv]).double() * tensor_scale
        s = scales.double().reshape(self.shape[:3] + (-1,))  # [..., 1] or [..., head_dim / 32]
        return data.double() * s.repeat_interleave(self.spec.head_dim // s.shape[-1], dim=-1)

    def sequence(self, dequantized: torch.Tensor, pages, length: int) -> torch.Tensor:
        """One sequence's rows, [length, kv_heads, head_dim]."""
        t = torch.arange(length, device=DEVICE)
        page = torch.tensor(pages, dtype=torch.long, device=DEVICE)[t // self.spec.page_size] if length else t
        slot = t % self.spec.page_size
        return dequantized[page, slot] if self.spec.layout == "nhd" else dequantized[page, :, slot]


def quantize_rows(x: torch.Tensor, spec: kvjit.Spec, tensor_scale: float):
    """The append kernel's conversion of [..., head_dim] rows (docs/FORMATS.md), on the GPU in torch:
    returns (stored values, scales or None). Bit-exact by construction: the same float32 operations in the
    same order, round half to even."""
    x = x.float()
    kv = spec.kv
    if kv in ("f16", "bf16"):
        return x.to(CACHE_DTYPES[kv]), None
    if kv in FP8_DTYPES:
        scale = torch.tensor(tensor_scale, dtype=torch.float32, device=x.device)  # a true division, not x * (1/s)
        return (x / scale).to(FP8_DTYPES[kv]).view(torch.uint8), None
    block = spec.head_dim if kv == "int8" else 32
    blocks = x.reshape(x.shape[:-1] + (spec.head_dim // block, block))
    amax = blocks.abs().amax(dim=-1)
    scale_h = (amax / 127.0).to(torch.float16)
    scale = scale_h.float()
    inv = torch.where(scale == 0, torch.zeros_like(scale), 1.0 / scale)
    q = torch.clamp(torch.round(blocks * inv.unsqueeze(-1)), -127, 127).to(torch.int8)
    return q.reshape(x.shape), (scale_h.squeeze(-1) if kv == "int8" else scale_h)


def reference_decode(q, k_seqs, v_seqs, gqa, sm_scale, softcap=0.0, window=0):
    """Attention of q [batch, q_heads, head_dim] over each sequence's K, V [n, kv_heads, head_dim], float64.
    Returns (out, lse); an empty sequence gives zeros and -inf."""
    q = q.double()
    out = torch.zeros_like(q)
    lse = torch.full(q.shape[:2], -math.inf, dtype=torch.float64, device=q.device)
    for b, (k, v) in enumerate(zip(k_seqs, v_seqs)):
        if window:
            k, v = k[-window:], v[-window:]
        if k.shape[0] == 0:
            continue
        kq, vq = k.double().repeat_interleave(gqa, dim=1), v.double().repeat_interleave(gqa, dim=1)
        s = torch.einsum("hd,nhd->hn", q[b], kq) * sm_scale
        if softcap:
            s = softcap * torch.tanh(s / softcap)
        m = s.amax(dim=-1, keepdim=True)
        p = torch.exp(s - m)
        total = p.sum(dim=-1, keepdim=True)
        out[b] = torch.einsum("hn,nhd->hd", p, vq) / total
        lse[b] = (m + torch.log(total)).squeeze(-1)
    return out, lse


def torch_sdpa(q, k_seqs, v_seqs, gqa, sm_scale):
    """The same attention through torch.nn.functional.scaled_dot_product_attention (float32), as a second
    opinion on reference_decode."""
    outs = []
    for b, (k, v) in enumerate(zip(k_seqs, v_seqs)):
        if k.shape[0] == 0:
            outs.append(torch.zeros_like(q[b], dtype=torch.float32))
            continue
        kq = k.float().repeat_interleave(gqa, dim=1).transpose(0, 1)  # [q_heads, n, head_dim]
        vq = v.float().repeat_interleave(gqa, dim=1).transpose(0, 1)
        o = torch.nn.functional.scaled_dot_product_attention(q[b].float().unsqueeze(1), kq, vq, scale=sm_scale)
        outs.append(o.squeeze(1))
    return torch.stack(outs)


def fill_cache(spec: kvjit.Spec, cache: Cache, paging: Paging, kv_heads: int, seed: int):
    """Appends N(0, 1) K/V for every token through kvjit's append kernel; returns the unquantized K, V."""
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    n = int(paging.slot_mapping.numel())
    shape = (n, kv_heads, spec.head_dim)
    k = torch.randn(shape, generator=gen, device=DEVICE).to(Q_DTYPES[spec.q])
    v = torch.randn(shape, generator=gen, device=DEVICE).to(Q_DTYPES[spec.q])
    if n:
        kvjit.append(spec.replace(kind="append", softcap=False), k, v, slot_mapping=paging.slot_mapping,
                     **cache.kwargs())
    return k, v
