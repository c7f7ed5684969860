#!/usr/bin/env python3
"""Host time of a decode launch from Python, on a GPU machine with torch and an installed kvjit
(scripts/device-build-python.sh installs it): what a Python engine pays per attention call before the GPU
sees the launch. Times N calls back to back without synchronizing (the GPU runs behind), for kvjit's
Kernel.decode, the module-level kvjit.decode and torch's scaled_dot_product_attention on the same shape, in one
process. --profile adds cProfile's table of Kernel.decode.

    python3 scripts/python_launch_overhead.py [--kv f16 int8] [--calls 2000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import torch
import torch.nn.functional as F

import kvjit

HEAD_DIM, Q_HEADS, KV_HEADS, PAGE, CONTEXT = 128, 32, 8, 16, 4096


def host_us(fn, calls: int) -> float:
    """Median over 5 rounds of the mean host time of `calls` back-to-back calls."""
    for _ in range(50):
        fn()
    torch.cuda.synchronize()
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls * 1e6)
        torch.cuda.synchronize()
    return sorted(rounds)[2]


def decode_call(kv: str):
    spec = kvjit.Spec(kind="decode", head_dim=HEAD_DIM, page_size=PAGE, gqa=Q_HEADS // KV_HEADS, kv=kv)
    pages = CONTEXT // PAGE
    shape = (pages, PAGE, KV_HEADS, HEAD_DIM)
    if kv in ("f16", "bf16"):
        k_cache = torch.randn(shape, device="cuda", dtype=torch.float16 if kv == "f16" else torch.bfloat16)
    else:
        k_cache = torch.randint(-127, 128, shape, device="cuda", dtype=torch.int8)
    v_cache = torch.empty_like(k_cache).copy_(k_cache)
    scale_cols = {"int8": 1, "q8": HEAD_DIM // 32}.get(kv, 0)
    launch = {}
    if scale_cols:
        rows = pages * PAGE * KV_HEADS * scale_cols
        launch = dict(k_scales=torch.rand(rows, device="cuda", dtype=torch.float16),
                      v_scales=torch.rand(rows, device="cuda", dtype=torch.float16))
    q = torch.randn(1, Q_HEADS, HEAD_DIM, device="cuda", dtype=torch.float16)
    kernel = kvjit.default_engine().get(spec)
    launch.update(block_table=torch.arange(pages, device="cuda", dtype=torch.int32).view(1, pages),
                  seq_lens=torch.full((1,), CONTEXT, device="cuda", dtype=torch.int32), out=torch.empty_like(q),
                  workspace=torch.zeros(kernel.decode_workspace_bytes(1, KV_HEADS), device="cuda",
                                        dtype=torch.uint8), max_seq_len=CONTEXT)
    return (lambda: kernel.decode(q, k_cache, v_cache, **launch),
            lambda: kvjit.decode(spec, q, k_cache, v_cache, **launch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kv", nargs="+", default=["f16", "int8"])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    a = parser.parse_args()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, batch 1, context {CONTEXT}, "
          f"head_dim {HEAD_DIM}, {Q_HEADS}/{KV_HEADS} heads; host us per call, median of 5 rounds of {a.calls}")
    q = torch.randn(1, Q_HEADS, 1, HEAD_DIM, device="cuda", dtype=torch.float16)
    k = torch.randn(1, KV_HEADS, CONTEXT, HEAD_DIM, device="cuda", dtype=torch.float16)
    sdpa = host_us(lambda: F.scaled_dot_product_attention(q, k, k, enable_gqa=True), a.calls)
    print(f"{'torch sdpa f16':28s} {sdpa:8.1f}")
    for kv in a.kv:
        kernel_decode, module_decode = decode_call(kv)
        print(f"{'kvjit Kernel.decode ' + kv:28s} {host_us(kernel_decode, a.calls):8.1f}")
        print(f"{'kvjit.decode ' + kv:28s} {host_us(module_decode, a.calls):8.1f}")
        if a.profile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(a.calls):
                kernel_decode()
            profile.disable()
            torch.cuda.synchronize()
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(15)
            print(text.getvalue())


if __name__ == "__main__":
    main()
