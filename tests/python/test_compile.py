"""Compiling without a GPU: compile(), dump(), models(), model_specs(), Engine.prefetch."""

import json
import os

import pytest

import kvjit

SPEC = "decode:hd=64,gqa=4,kv=int8,arch=sm_90"


def test_compile_ptx_only():
    k = kvjit.compile(SPEC, cubin=False)
    assert k.spec == kvjit.Spec(SPEC)
    assert f".entry {k.symbol}" in k.ptx and ".target sm_90" in k.ptx
    assert k.cubin == b""
    assert k.report["threads_per_cta"] > 0
    assert k.backend.startswith("nvrtc ")


def test_compile_cubin_and_report():
    k = kvjit.compile(kvjit.Spec(SPEC).replace(kind="append"))
    assert k.cubin[:4] == b"\x7fELF"
    assert k.report["registers"] > 0
    assert k.report["spill_store_bytes"] >= 0
    assert k.compile_ms > 0


def test_compile_needs_a_concrete_arch():
    with pytest.raises(kvjit.SpecError, match="concrete arch"):
        kvjit.compile("decode:hd=64")


def test_dump(tmp_path):
    stems = kvjit.dump([SPEC], out_dir=str(tmp_path))
    assert len(stems) == 1
    for ext in (".cu", ".ptx", ".cubin", ".log", ".json"):
        assert os.path.getsize(stems[0] + ext) > 0, ext
    report = json.loads(open(stems[0] + ".json").read())
    assert report["spec"] == str(kvjit.Spec(SPEC)) and report["registers"] > 0
    # The templates are written beside the .cu so that it recompiles as it is.
    assert (tmp_path / "kvjit" / "decode.cuh").exists()


def test_models():
    models = kvjit.models()
    llama = next(m for m in models if m.name == "llama-3-8b")
    assert (llama.head_dim, llama.num_q_heads, llama.num_kv_heads, llama.gqa) == (128, 32, 8, 4)
    specs = kvjit.model_specs("llama-3-8b", kv="int8", arch="sm_90")
    assert [s.kind for s in specs] == ["append", "decode"]
    assert all(s.gqa == 4 and s.kv == "int8" and s.arch == "sm_90" for s in specs)
    with pytest.raises(kvjit.NotFoundError, match="unknown model"):
        kvjit.model_specs("no-such-model")


def test_prefetch_without_a_gpu():
    engine = kvjit.Engine()
    engine.prefetch([SPEC, kvjit.Spec(SPEC).replace(kind="append")])
    engine.wait_prefetch()
