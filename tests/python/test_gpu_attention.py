"""GPU: kvjit's append and decode against torch, in every KV format, layout and paging scheme.

Decode is compared with float64 attention on the cache that append wrote, dequantized by torch (only float
arithmetic and accumulation order differ), and loosely with attention on the unquantized K/V (catches a
quantizer and a dequantizer that are wrong in the same way). Append is compared bit for bit with a torch
quantizer that follows docs/FORMATS.md. Skips without torch or a CUDA device.
"""

import math

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

import kvjit  # noqa: E402
from gpu_support import (  # noqa: E402
    DEVICE,
    Q_DTYPES,
    Cache,
    Paging,
    fill_cache,
    quantize_rows,
    reference_decode,
    rel_l2,
    torch_sdpa,
)

FORMATS = ["f16", "bf16", "int8", "q8", "e4m3", "e5m2"]
# Decode output against float64 attention on the same dequantized cache: the output's own rounding dominates.
OUTPUT_TOL = {"f16": 2e-3, "bf16": 1e-2}
# Against attention on the unquantized inputs: the format's own error (FORMATS.md "Expected error"), with room.
FORMAT_TOL = {"f16": 2e-3, "bf16": 1e-2, "int8": 0.02, "q8": 0.02, "e4m3": 0.1, "e5m2": 0.2}
LSE_TOL = 2e-3


def run_decode(spec, seq_lens, kv_heads=2, seed=0, softcap=0.0, window=0, **launch):
    """Fills a cache through append, decodes, and checks against torch. Returns (out, reference)."""
    gqa, hd = spec.gqa, spec.head_dim
    paging = Paging(seq_lens, spec.page_size, seed=seed)
    cache = Cache(spec, paging.num_pages, kv_heads)
    k_all, v_all = fill_cache(spec, cache, paging, kv_heads, seed)
    gen = torch.Generator(device=DEVICE).manual_seed(seed + 1)
    q = (torch.randn((len(seq_lens), kv_heads * gqa, hd), generator=gen, device=DEVICE) * (4 if softcap else 1)).to(
        Q_DTYPES[spec.q])
    out = torch.full_like(q, math.nan)
    lse = torch.full(q.shape[:2], math.nan, dtype=torch.float32, device=DEVICE)
    sm_scale = 1.0 / math.sqrt(hd)
    extra = dict(softcap=softcap) if softcap else {}
    kvjit.decode(spec, q, out=out, lse=lse, sm_scale=sm_scale, window=window, **extra, **cache.kwargs(),
                 **paging.decode_kwargs(spec.paging), **launch)
    torch.cuda.synchronize()

    k_deq, v_deq = cache.dequantized(True), cache.dequantized(False)
    k_seqs = [cache.sequence(k_deq, pages, n) for pages, n in zip(paging.pages, seq_lens)]
    v_seqs = [cache.sequence(v_deq, pages, n) for pages, n in zip(paging.pages, seq_lens)]
    want, want_lse = reference_decode(q, k_seqs, v_seqs, gqa, sm_scale, softcap=softcap, window=window)

    label = f"{spec} lens={seq_lens}"
    assert not torch.isnan(out).any(), f"{label}: output left unwritten"
    err = rel_l2(out, want)
    assert err <= OUTPUT_TOL[spec.q], f"{label}: rel L2 {err:.2e} against torch on the dequantized cache"
    finite = torch.isfinite(want_lse)
    if finite.any():
        lse_err = float((lse.double()[finite] - want_lse[finite]).abs().max())
        assert lse_err <= LSE_TOL, f"{label}: LSE off by {lse_err:.2e}"
    assert torch.all(lse[~finite] == -math.inf), f"{label}: empty sequences must give LSE -inf"

    # Against the unquantized inputs (the tokens appended in sequence-major order).
    starts = [sum(seq_lens[:b]) for b in range(len(seq_lens))]
    k_raw = [k_all[s:s + n] for s, n in zip(starts, seq_lens)]
    v_raw = [v_all[s:s + n] for s, n in zip(starts, seq_lens)]
    raw, _ = reference_decode(q, k_raw, v_raw, gqa, sm_scale, softcap=softcap, window=window)
    err_raw = rel_l2(out, raw)
    assert err_raw <= FORMAT_TOL[spec.kv], f"{label}: rel L2 {err_raw:.2e} against unquantized attention"
    return out, want, (q, k_seqs, v_seqs, sm_scale)


@pytest.mark.parametrize("paging", ["table", "csr"])
@pytest.mark.parametrize("layout", ["nhd", "hnd"])
@pytest.mark.parametrize("kv", FORMATS)
def test_decode_matches_torch(kv, layout, paging):
    spec = kvjit.Spec(kind="decode", head_dim=128, gqa=4, kv=kv, layout=layout, paging=paging)
    run_decode(spec, [1, 17, 300, 69, 0], seed=FORMATS.index(kv))


@pytest.mark.parametrize(
    "text",
    [
        "decode:hd=64,page=1,gqa=1,kv=int8",
        "decode:hd=256,page=32,gqa=8,kv=int8,q=bf16",
        "decode:hd=96,page=16,gqa=7,kv=f16,layout=hnd",
        "decode:hd=64,page=16,gqa=2,kv=q8,paging=csr",
        "decode:hd=128,page=64,gqa=16,kv=e4m3,q=bf16",
    ],
)
def test_decode_other_shapes(text):
    run_decode(kvjit.Spec(text), [5, 1000, 33], kv_heads=3, seed=7)


def test_sdpa_agrees_with_the_reference():
    """The float64 reference is torch's own attention (scaled_dot_product_attention) up to float32 rounding."""
    spec = kvjit.Spec("decode:hd=128,gqa=4,kv=int8")
    out, want, (q, k_seqs, v_seqs, sm_scale) = run_decode(spec, [40, 513])
    sdpa = torch_sdpa(q, k_seqs, v_seqs, spec.gqa, sm_scale)
    assert rel_l2(sdpa, want) <= 1e-5
    assert rel_l2(out, sdpa) <= OUTPUT_TOL["f16"]


def test_softcap_and_window():
    spec = kvjit.Spec("decode:hd=128,gqa=4,kv=int8,softcap=1")
    run_decode(spec, [300, 7, 1024], softcap=30.0)
    run_decode(kvjit.Spec("decode:hd=128,gqa=4,kv=f16"), [300, 7, 1024], window=50)


def test_split_kv_matches_unsplit():
    spec = kvjit.Spec("decode:hd=128,gqa=4,kv=int8")
    kernel = kvjit.default_engine().get(spec)
    lens = [4096, 3000]
    for splits in (0, 8):  # 0: chosen from the shapes and the SM count
        workspace = torch.zeros(kernel.decode_workspace_bytes(len(lens), 2), dtype=torch.uint8, device=DEVICE)
        run_decode(spec, lens, workspace=workspace, max_seq_len=max(lens), num_splits=splits)


def test_programmatic_dependent_launch_matches_the_reference():
    """pdl=True (sm_90 and up; elsewhere a plain launch) takes the same kernel and must give the same result,
    unsplit and split (where the merge runs while the next launch is placed). Before sm_90 it checks only that
    pdl=True is accepted and launches plainly."""
    spec = kvjit.Spec("decode:hd=128,gqa=4,kv=e4m3")
    kernel = kvjit.default_engine().get(spec)
    lens = [4096, 1500]
    run_decode(spec, lens, pdl=True)
    workspace = torch.zeros(kernel.decode_workspace_bytes(len(lens), 2), dtype=torch.uint8, device=DEVICE)
    plain, _, _ = run_decode(spec, lens, workspace=workspace, max_seq_len=max(lens), num_splits=8)
    chained, _, _ = run_decode(spec, lens, workspace=workspace, max_seq_len=max(lens), num_splits=8, pdl=True)
    assert torch.equal(plain, chained), "a launch with pdl differs from the plain one"


def test_cta_sizes_and_the_grid_query():
    """decode_grid reports the launch's own choice; cta_warps fixes either CTA size the kernel runs (a one-byte
    format at head_dim 128 runs 4 and 6 warps where tensor cores are used, 4 elsewhere), each giving the
    reference result; a size the kernel lacks is refused before anything is launched."""
    spec = kvjit.Spec("decode:hd=128,gqa=4,kv=int8")
    kernel = kvjit.default_engine().get(spec)
    warps, splits = kernel.decode_grid(64, 8, 4096)
    assert warps in (4, 6) and splits >= 1
    assert kernel.decode_grid(1, 8, 0)[1] == 1, "without a longest length nothing splits"
    assert kernel.decode_grid(1, 8, 32768)[1] > 1, "one sequence of 32768 tokens splits"
    with pytest.raises(ValueError, match="max_seq_len must be an int >= 0"):
        kernel.decode_grid(1, 8, -1)
    lens = [4096, 1500]
    workspace = torch.zeros(kernel.decode_workspace_bytes(len(lens), 2), dtype=torch.uint8, device=DEVICE)
    ran = []
    for w in (4, 6):
        try:
            run_decode(spec, lens, workspace=workspace, max_seq_len=max(lens), cta_warps=w, pdl=True)
            ran.append(w)
        except kvjit.ArgumentError as e:
            assert w == 6 and "cta_warps=6: this kernel runs CTAs of 4 warps" in str(e), str(e)
    assert 4 in ran
    if torch.cuda.get_device_capability() >= (8, 0):
        assert ran == [4, 6], "tensor-core kernels of one-byte formats at head_dim 128 run CTAs of 6 too"
    with pytest.raises(kvjit.ArgumentError, match="cta_warps=5: this kernel runs CTAs of 4"):
        run_decode(spec, lens, cta_warps=5)


def test_split_workspace_is_zeroed_once():
    """The documented contract (launch_args.h): a workspace of decode_workspace_bytes(batch, heads), zeroed once
    after allocation, serves every later launch, including ones with another split count or a smaller batch (a
    decode step's batch changes as sequences finish)."""
    spec = kvjit.Spec("decode:hd=128,gqa=4,kv=int8")
    kernel = kvjit.default_engine().get(spec)
    workspace = torch.zeros(kernel.decode_workspace_bytes(3, 2), dtype=torch.uint8, device=DEVICE)
    for lens, splits in (([4096, 3000, 2000], 4), ([4096, 3000, 2000], 8), ([2500, 4096], 8), ([4096], 0)):
        run_decode(spec, lens, workspace=workspace, max_seq_len=max(lens), num_splits=splits)


@pytest.mark.parametrize("layout", ["nhd", "hnd"])
@pytest.mark.parametrize("kv", FORMATS)
def test_append_is_bit_exact(kv, layout):
    hd = 64 if kv == "q8" else 128
    spec = kvjit.Spec(kind="append", head_dim=hd, kv=kv, layout=layout, q="bf16" if kv == "bf16" else "f16")
    lens = [37, 16, 1]
    kv_heads = 3
    paging = Paging(lens, spec.page_size, seed=3)
    cache = Cache(spec, paging.num_pages, kv_heads)
    k, v = fill_cache(spec, cache, paging, kv_heads, seed=3)
    torch.cuda.synchronize()
    slots = paging.slot_mapping
    pages, within = slots // spec.page_size, slots % spec.page_size
    for data, scales, raw, tensor_scale, name in ((cache.k, cache.k_scales, k, cache.k_scale, "K"),
                                                 (cache.v, cache.v_scales, v, cache.v_scale, "V")):
        want, want_scales = quantize_rows(raw, spec, tensor_scale)
        got = data[pages, within] if layout == "nhd" else data[pages, :, within]
        mismatched = int((got.view(torch.uint8) != want.view(torch.uint8)).sum())
        assert mismatched == 0, f"{spec}: {mismatched} {name} bytes differ from the torch quantizer"
        if want_scales is not None:
            got_scales = scales[pages, within] if layout == "nhd" else scales[pages, :, within]
            assert torch.equal(got_scales.view(torch.int16), want_scales.view(torch.int16)), f"{spec}: {name} scales"


def test_append_skips_negative_slots_and_zero_tokens():
    spec = kvjit.Spec("append:hd=64,kv=int8")
    cache = Cache(spec, 4, 2)
    k = torch.randn((3, 2, 64), device=DEVICE).half()
    slots = torch.tensor([5, -1, 17], dtype=torch.int64, device=DEVICE)
    kvjit.append(spec, k, k, slot_mapping=slots, **cache.kwargs())
    torch.cuda.synchronize()
    written = (cache.k.view(-1, 2, 64) != 0).any(dim=-1).any(dim=-1).nonzero().flatten().tolist()
    assert written == [5, 17]
    empty = torch.empty((0, 2, 64), dtype=torch.float16, device=DEVICE)
    kvjit.append(spec, empty, empty, slot_mapping=torch.empty(0, dtype=torch.int64, device=DEVICE),
                 **cache.kwargs())


@pytest.mark.parametrize("kv", ["f16", "int8"])
def test_contiguous_per_sequence_caches(kv):
    """paging=contig: one [kv_heads, capacity, head_dim] buffer per sequence, passed as pointer arrays."""
    hd, heads, gqa, capacity = 128, 2, 4, 512
    lens = [100, 1, 511]
    decode = kvjit.Spec(kind="decode", head_dim=hd, gqa=gqa, kv=kv, paging="contig")
    append = decode.replace(kind="append")
    dtype = torch.float16 if kv == "f16" else torch.int8
    ks = [torch.zeros((heads, capacity, hd), dtype=dtype, device=DEVICE) for _ in lens]
    vs = [torch.zeros_like(t) for t in ks]
    scales = {}
    if kv == "int8":
        scales = {name: [torch.zeros((heads, capacity), dtype=torch.float16, device=DEVICE) for _ in lens]
                  for name in ("k_scales", "v_scales")}
    pointers = dict(k_cache=kvjit.pointer_array(ks), v_cache=kvjit.pointer_array(vs),
                    **{name: kvjit.pointer_array(ts) for name, ts in scales.items()})
    tokens = sum(lens)
    k = torch.randn((tokens, heads, hd), device=DEVICE).half()
    v = torch.randn((tokens, heads, hd), device=DEVICE).half()
    slots = torch.tensor([b * capacity + t for b, n in enumerate(lens) for t in range(n)], dtype=torch.int64,
                         device=DEVICE)
    kvjit.append(append, k, v, slot_mapping=slots, seq_capacity=capacity, **pointers)
    q = torch.randn((len(lens), heads * gqa, hd), device=DEVICE).half()
    seq_lens = torch.tensor(lens, dtype=torch.int32, device=DEVICE)
    out = kvjit.decode(decode, q, seq_lens=seq_lens, seq_capacity=capacity, **pointers)
    torch.cuda.synchronize()

    def rows(buffers, scale_buffers, b, n):  # [n, heads, hd], dequantized
        x = buffers[b][:, :n].double()
        if scale_buffers is not None:
            x = x * scale_buffers[b][:, :n].double().unsqueeze(-1)
        return x.transpose(0, 1)

    k_seqs = [rows(ks, scales.get("k_scales"), b, n) for b, n in enumerate(lens)]
    v_seqs = [rows(vs, scales.get("v_scales"), b, n) for b, n in enumerate(lens)]
    want, _ = reference_decode(q, k_seqs, v_seqs, gqa, 1.0 / math.sqrt(hd))
    assert rel_l2(out, want) <= OUTPUT_TOL["f16"]
