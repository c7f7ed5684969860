#!/usr/bin/env python3
"""Decode attention: kvjit (through its Python package) against PyTorch's scaled_dot_product_attention on the
same shapes, on a GPU machine with torch and an installed kvjit (scripts/device-build-python.sh installs it).

torch SDPA runs what an engine without kvjit runs: f16, contiguous [batch, heads, context, head_dim] K/V, one
query token, GQA through enable_gqa. kvjit runs each KV format over a paged cache (page 16, NHD). Every row
reports the median of timed runs (CUDA events), the bytes the kernel must read (K, V, scales, Q, O, page
table) per second, and that as a share of the copy bandwidth measured in the same run.

    python3 scripts/compare_torch.py [--batch 1 16 64] [--context 4096 32768] [--kv f16 int8 e4m3] [--cuda-cores]

Without the kvjit package (--torch-only, or when it is not installed) only the torch rows are printed; compare
them with `kvjit bench` at the same shapes on the same GPU (docs/BENCHMARKS.md does).
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

try:
    import kvjit
except ImportError:  # torch-only rows
    kvjit = None

HEAD_DIM, Q_HEADS, KV_HEADS, PAGE = 128, 32, 8, 16


def time_us(fn, runs: int, back_to_back: int = 1) -> float:
    """Median over `runs` samples; a sample is `back_to_back` calls queued between two events, divided by
    their count (as `kvjit bench --back-to-back`): the GPU's time per call wherever a call runs longer on the
    GPU than the host takes to submit the next, not the host's submission as one call alone would measure."""
    for _ in range(5):
        fn()
    start = [torch.cuda.Event(enable_timing=True) for _ in range(runs)]
    stop = [torch.cuda.Event(enable_timing=True) for _ in range(runs)]
    for a, b in zip(start, stop):
        a.record()
        for _ in range(back_to_back):
            fn()
        b.record()
    torch.cuda.synchronize()
    times = sorted(a.elapsed_time(b) * 1000.0 / back_to_back for a, b in zip(start, stop))
    return times[len(times) // 2]


# Calls read rotating copies of K/V adding up to this many bytes, so a small shape is timed from memory, not
# from the 50 MB L2 (as `kvjit bench` rotates its caches).
ROTATION_BYTES = 4 * 50 * 1024 * 1024


def copy_bandwidth() -> float:
    """Read + write bytes per second of a device-to-device copy of 2 GiB."""
    src = torch.empty(1 << 30, dtype=torch.float16, device="cuda")
    dst = torch.empty_like(src)
    us = time_us(lambda: dst.copy_(src), 20)
    return 2 * src.numel() * 2 / (us * 1e-6)


def torch_sdpa(batch: int, context: int, runs: int, back_to_back: int):
    q = torch.randn(batch, Q_HEADS, 1, HEAD_DIM, device="cuda", dtype=torch.float16)
    kv_bytes = 2 * batch * KV_HEADS * context * HEAD_DIM * 2
    copies = max(1, math.ceil(ROTATION_BYTES / kv_bytes))
    kvs = [(torch.randn(batch, KV_HEADS, context, HEAD_DIM, device="cuda", dtype=torch.float16),
            torch.randn(batch, KV_HEADS, context, HEAD_DIM, device="cuda", dtype=torch.float16))
           for _ in range(copies)]
    turn = [0]

    def call():
        k, v = kvs[turn[0] % copies]
        turn[0] += 1
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)

    us = time_us(call, runs, back_to_back)
    return us, kv_bytes + 2 * q.numel() * 2


def kvjit_decode(kv: str, mma, batch: int, context: int, runs: int, back_to_back: int):
    spec = kvjit.Spec(kind="decode", head_dim=HEAD_DIM, page_size=PAGE, gqa=Q_HEADS // KV_HEADS, kv=kv, mma=mma)
    pages_per_seq = math.ceil(context / PAGE)
    pages = batch * pages_per_seq
    shape = (pages, PAGE, KV_HEADS, HEAD_DIM)
    if kv in ("f16", "bf16"):
        dtype = torch.float16 if kv == "f16" else torch.bfloat16
        k_cache = torch.randn(shape, device="cuda", dtype=dtype)
        v_cache = torch.randn_like(k_cache)
    else:
        # Random codes; E4M3/E5M2 NaN codes are fine for timing (the kernel's work does not depend on values).
        k_cache = torch.randint(-127, 128, shape, device="cuda", dtype=torch.int8)
        v_cache = torch.randint(-127, 128, shape, device="cuda", dtype=torch.int8)
    scale_cols = {"int8": 1, "q8": HEAD_DIM // 32}.get(kv, 0)
    scales = {}
    if scale_cols:
        rows = pages * PAGE * KV_HEADS
        scales = dict(k_scales=torch.rand(rows * scale_cols, device="cuda", dtype=torch.float16) * 0.02,
                      v_scales=torch.rand(rows * scale_cols, device="cuda", dtype=torch.float16) * 0.02)
    # Pages of a sequence scattered over the pool, as an engine's allocator leaves them.
    block_table = torch.randperm(pages, device="cuda", dtype=torch.int64).to(torch.int32).view(batch, pages_per_seq)
    seq_lens = torch.full((batch,), context, device="cuda", dtype=torch.int32)
    q = torch.randn(batch, Q_HEADS, HEAD_DIM, device="cuda", dtype=torch.float16)
    out = torch.empty_like(q)
    kernel = kvjit.default_engine().get(spec)
    workspace = torch.zeros(kernel.decode_workspace_bytes(batch, KV_HEADS), device="cuda", dtype=torch.uint8)
    launch = dict(block_table=block_table, seq_lens=seq_lens, out=out, workspace=workspace, max_seq_len=context,
                  **scales)
    us = time_us(lambda: kernel.decode(q, k_cache, v_cache, **launch), runs, back_to_back)
    elem = 2 if kv in ("f16", "bf16") else 1
    kv_bytes = 2 * batch * context * KV_HEADS * HEAD_DIM * elem
    scale_bytes = 2 * batch * context * KV_HEADS * scale_cols * 2
    return us, kv_bytes + scale_bytes + 2 * q.numel() * 2 + block_table.numel() * 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--context", type=int, nargs="+", default=[4096, 32768])
    parser.add_argument("--kv", nargs="+", default=["f16", "int8", "q8", "e4m3", "e5m2"])
    parser.add_argument("--cuda-cores", action="store_true", help="also the CUDA-core decode body (mma=0)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--back-to-back", type=int, default=20,
                        help="calls queued between a sample's two events (1: one call, host submission included)")
    parser.add_argument("--torch-only", action="store_true", help="only torch's rows (no kvjit package needed)")
    args = parser.parse_args()
    if kvjit is None and not args.torch_only:
        print("kvjit package not installed: torch rows only")
    kv_formats = [] if args.torch_only or kvjit is None else args.kv

    copy = copy_bandwidth()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, copy bandwidth {copy / 1e9:.0f} GB/s")
    print(f"{'kernel':<22} {'batch':>6} {'context':>8} {'us':>10} {'GB/s':>8} {'%copy':>7} {'vs sdpa':>8}")
    for batch in args.batch:
        for context in args.context:
            if batch * context > 64 * 32768:
                continue  # beyond this the f16 K/V of torch's layout no longer fits comfortably
            sdpa_us, sdpa_bytes = torch_sdpa(batch, context, args.runs, args.back_to_back)
            rows = [("torch sdpa f16", sdpa_us, sdpa_bytes)]
            for kv in kv_formats:
                # None: the default body (tensor cores where the format has them); False: the CUDA-core body.
                for mma in ([None, False] if args.cuda_cores and kv != "bf16" else [None]):
                    us, nbytes = kvjit_decode(kv, mma, batch, context, args.runs, args.back_to_back)
                    rows.append((f"kvjit {kv}{' cuda-cores' if mma is False else ''}", us, nbytes))
            for name, us, nbytes in rows:
                gbs = nbytes / (us * 1e-6) / 1e9
                print(f"{name:<22} {batch:>6} {context:>8} {us:>10.1f} {gbs:>8.0f} {100 * gbs * 1e9 / copy:>6.1f}% "
                      f"{sdpa_us / us:>7.2f}x")
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
