"""Argument checks of decode() and append(), against the spec, before anything reaches the driver: one row
per bad argument with the message it must give. Uses fake device arrays (fakes.py); no GPU."""

import numpy as np
import pytest

import kvjit
from fakes import F16, F32, I8, I32, I64, FakeCudaArray, valid_append_args, valid_decode_args

# (what is changed, the message expected)
DECODE_ERRORS = [
    (dict(q=None), "q is required"),
    (dict(q=FakeCudaArray((3, 8, 64), F32)), "q: expected dtype float16 (spec q=f16), got float32"),
    (dict(q=FakeCudaArray((3, 8, 128), F16)), "q: expected shape [batch, num_q_heads, head_dim] = [*, *, 64], got [3, 8, 128]"),
    (dict(q=FakeCudaArray((24, 64), F16)), "q: expected 3 dimensions [batch, num_q_heads, head_dim], got shape [24, 64]"),
    (dict(q=FakeCudaArray((3, 8, 64), F16, strides=(2048, 256, 2))), "q must be contiguous"),
    (dict(q=FakeCudaArray((3, 12, 64), F16), out=FakeCudaArray((3, 12, 64), F16)), "q has 12 heads but the cache has 2 kv heads x gqa=4 = 8"),
    (dict(q=FakeCudaArray((3, 7, 64), F16)), "q has 7 heads, not a multiple of gqa=4"),
    (dict(k_cache=FakeCudaArray((12, 16, 2, 64), F16)), "k_cache: expected dtype int8 (spec kv=int8), got float16"),
    (dict(k_cache=FakeCudaArray((12, 32, 2, 64), I8)), "k_cache: expected shape [pages, page_size, num_kv_heads, head_dim] = [*, 16, *, 64], got [12, 32, 2, 64]"),
    (dict(v_cache=FakeCudaArray((11, 16, 2, 64), I8)), "v_cache: expected shape [pages, page_size, num_kv_heads, head_dim] = [12, 16, 2, 64]"),
    (dict(k_scales=None), "kv=int8 needs k_scales (float16, one per row: 384 for this cache)"),
    (dict(v_scales=FakeCudaArray((12, 16), F16)), "v_scales: expected 384 elements ([pages, page_size, num_kv_heads] = 384 rows x 1), got shape [12, 16]"),
    (dict(k_scales=FakeCudaArray((12, 16, 2), F32)), "k_scales: expected dtype float16 (spec scale=f16), got float32"),
    (dict(block_table=None), "block_table is required"),
    (dict(block_table=FakeCudaArray((3, 4), I64)), "block_table: expected dtype int32, got int64"),
    (dict(block_table=FakeCudaArray((2, 4), I32)), "block_table: expected shape [batch, max_blocks_per_seq] = [3, *], got [2, 4]"),
    (dict(seq_lens=FakeCudaArray((4,), I32)), "seq_lens: expected shape [batch] = [3], got [4]"),
    (dict(indptr=FakeCudaArray((4,), I32)), "indptr is not used by paging=table"),
    (dict(out=FakeCudaArray((3, 8, 64), "<f8")), "out: expected dtype float16 (spec q=f16), got float64"),
    (dict(lse=FakeCudaArray((3, 8), F16)), "lse: expected dtype float32, got float16"),
    (dict(sm_scale=-1.0), "sm_scale=-1.0: must be positive and finite"),
    (dict(softcap=30.0), "softcap=30.0 needs a spec with softcap=1"),
    (dict(window=-1), "window: expected an int >= 0, got -1"),
    (dict(pdl=1), "pdl: expected a bool, got 1"),
    (dict(cta_warps=-4), "cta_warps: expected an int >= 0, got -4"),
    (dict(cta_warps=4.0), "cta_warps: expected an int >= 0, got 4.0"),
    (dict(seq_capacity=100), "seq_capacity is not used by paging=table"),
    (dict(q=np.zeros((3, 8, 64), np.float16)), "q is on cpu; kvjit kernels read CUDA device memory"),
    (dict(q=[[0.0]]), "q: expected a torch tensor or an object with __cuda_array_interface__ or __dlpack__, got list"),
]


@pytest.mark.parametrize("change, message", DECODE_ERRORS, ids=[m[:40] for _, m in DECODE_ERRORS])
def test_decode_argument_errors(change, message):
    spec, args = valid_decode_args()
    args.update(change)
    with pytest.raises((kvjit.ArgumentError, TypeError)) as e:
        kvjit.decode(spec, **args)
    assert message in str(e.value)
    if isinstance(e.value, kvjit.ArgumentError):
        assert str(e.value).startswith(str(spec) + ": ")  # every message names the kernel


def test_csr_and_contig_paging_arguments():
    spec, args = valid_decode_args()
    csr = spec.replace(paging="csr")
    with pytest.raises(kvjit.ArgumentError, match="block_table is not used by paging=csr"):
        kvjit.decode(csr, **args)
    del args["block_table"], args["seq_lens"]
    with pytest.raises(kvjit.ArgumentError, match="indptr is required"):
        kvjit.decode(csr, **args)
    args.update(indptr=FakeCudaArray((3,), I32), indices=FakeCudaArray((9,), I32),
                last_page_len=FakeCudaArray((3,), I32))
    with pytest.raises(kvjit.ArgumentError, match=r"indptr: expected shape \[batch \+ 1\] = \[4\], got \[3\]"):
        kvjit.decode(csr, **args)

    contig = spec.replace(paging="contig")
    _, args = valid_decode_args()
    del args["block_table"]
    with pytest.raises(kvjit.ArgumentError, match="paging=contig needs seq_capacity"):
        kvjit.decode(contig, **args)
    with pytest.raises(kvjit.ArgumentError, match="k_cache: expected dtype int64 or uint64"):
        kvjit.decode(contig, seq_capacity=1024, **args)


def test_kind_mismatch():
    spec, args = valid_decode_args()
    with pytest.raises(kvjit.ArgumentError, match="this is a decode kernel; use decode()"):
        kvjit.append(spec, k=args["q"], v=args["q"], k_cache=args["k_cache"], v_cache=args["v_cache"],
                     slot_mapping=FakeCudaArray((3,), I64))


APPEND_ERRORS = [
    (dict(k=FakeCudaArray((5, 2, 64), "<f4")), "k: expected dtype float16 (spec q=f16), got float32"),
    (dict(v=FakeCudaArray((5, 2, 32), F16)), "v: expected shape like k = [5, 2, 64], got [5, 2, 32]"),
    (dict(k=FakeCudaArray((5, 4, 64), F16), v=FakeCudaArray((5, 4, 64), F16)), "k has 4 kv heads but the cache has 2"),
    (dict(slot_mapping=FakeCudaArray((5,), I32)), "slot_mapping: expected dtype int64, got int32"),
    (dict(slot_mapping=FakeCudaArray((4,), I64)), "slot_mapping: expected shape [num_tokens] = [5], got [4]"),
    (dict(k_scale=0.0), "k_scale=0.0: must be positive and finite"),
]


@pytest.mark.parametrize("change, message", APPEND_ERRORS, ids=[m[:40] for _, m in APPEND_ERRORS])
def test_append_argument_errors(change, message):
    spec, args = valid_append_args()
    args.update(change)
    with pytest.raises(kvjit.ArgumentError) as e:
        kvjit.append(spec, **args)
    assert message in str(e.value)


def test_formats_without_scales_refuse_them():
    spec, args = valid_decode_args()
    f16 = spec.replace(kv="f16")
    args.update(k_cache=FakeCudaArray((12, 16, 2, 64), F16), v_cache=FakeCudaArray((12, 16, 2, 64), F16))
    with pytest.raises(kvjit.ArgumentError, match=r"k_scales is not used by kv=f16 \(no scale pool\)"):
        kvjit.decode(f16, **args)


def test_fp8_caches_accept_raw_bytes_and_q8_scales_are_per_block():
    spec, args = valid_decode_args()
    e4m3 = spec.replace(kv="e4m3")
    del args["k_scales"], args["v_scales"]
    args.update(k_cache=FakeCudaArray((12, 16, 2, 64), "|u1"), v_cache=FakeCudaArray((12, 16, 2, 64), "|u1"),
                sm_scale=0.0)
    # Gets past every cache check and stops at the first scalar check.
    with pytest.raises(kvjit.ArgumentError, match="sm_scale=0.0"):
        kvjit.decode(e4m3, **args)
    _, args = valid_decode_args()
    with pytest.raises(kvjit.ArgumentError, match=r"expected 768 elements .* 384 rows x 2"):
        kvjit.decode(spec.replace(kv="q8"), **args)


def test_f32_scale_pools():
    spec, args = valid_decode_args()
    f32 = spec.replace(scale_dtype="f32")
    assert str(f32).endswith(",scale=f32") and f32.scale_dtype == "f32" and spec.scale_dtype == "f16"
    # f16 pools are refused by an f32 spec, and the missing-pool message names the dtype wanted.
    with pytest.raises(kvjit.ArgumentError, match=r"k_scales: expected dtype float32 \(spec scale=f32\), got float16"):
        kvjit.decode(f32, **args)
    args.update(k_scales=None)
    with pytest.raises(kvjit.ArgumentError, match=r"needs k_scales \(float32, one per row"):
        kvjit.decode(f32, **args)
    # f32 pools of the right size get past every cache check and stop at the first scalar check.
    _, args = valid_decode_args()
    args.update(k_scales=FakeCudaArray((12, 16, 2), F32), v_scales=FakeCudaArray((12, 16, 2), F32), sm_scale=0.0)
    with pytest.raises(kvjit.ArgumentError, match="sm_scale=0.0"):
        kvjit.decode(f32, **args)
    with pytest.raises(kvjit.SpecError, match="scale_dtype=f32: needs kv=int8 or kv=q8"):
        spec.replace(kv="e4m3", scale_dtype="f32")


def test_hnd_layout_shape():
    spec, args = valid_decode_args()
    with pytest.raises(kvjit.ArgumentError, match=r"\[pages, num_kv_heads, page_size, head_dim\] = \[\*, \*, 16, 64\]"):
        kvjit.decode(spec.replace(layout="hnd"), **args)


def test_dlpack_views():
    from kvjit._tensors import view

    v = view("x", np.zeros((2, 3), np.int32))
    assert (v.shape, v.dtype, v.device, v.is_contiguous()) == ((2, 3), "int32", "cpu", True)
    t = view("x", np.zeros((4, 6), np.float16)[:, ::2])
    assert t.strides == (6, 2) and not t.is_contiguous()


def test_pdl_reaches_the_launch_arguments():
    from kvjit._launch import check_decode

    spec, args = valid_decode_args()
    for pdl in (False, True):
        launch, _, _, _ = check_decode(spec, None, **args, pdl=pdl)
        assert launch["pdl"] is pdl


def test_cta_warps_reaches_the_launch_arguments():
    from kvjit._launch import check_decode

    spec, args = valid_decode_args()
    for warps in (0, 4, 6):
        launch, _, _, _ = check_decode(spec, None, **args, cta_warps=warps)
        assert launch["cta_warps"] == warps
