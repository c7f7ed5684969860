"""kvjit.Spec: parse, canonical text, fields, keyword construction, errors (no GPU)."""

import pickle

import pytest

import kvjit

CANONICAL = "decode:hd=128,page=16,gqa=4,kv=int8,q=f16,layout=nhd,paging=table,arch=auto"


def test_parse_and_print():
    spec = kvjit.Spec("decode:kv=int8,gqa=4")
    assert str(spec) == CANONICAL
    assert kvjit.Spec.parse(CANONICAL) == spec
    assert repr(spec) == f"kvjit.Spec('{CANONICAL}')"


def test_fields():
    spec = kvjit.Spec("append:head_dim=256,page_size=32,kv=e4m3,q=bf16,layout=hnd,paging=csr,arch=sm_90a")
    assert (spec.kind, spec.head_dim, spec.page_size, spec.gqa) == ("append", 256, 32, 1)
    assert (spec.kv, spec.q, spec.layout, spec.paging, spec.arch, spec.softcap) == (
        "e4m3", "bf16", "hnd", "csr", "sm_90a", False)
    assert spec.as_dict()["head_dim"] == 256


def test_keywords_and_replace():
    spec = kvjit.Spec(kind="decode", head_dim=64, gqa=8, kv="q8", arch="sm_89")
    assert str(spec) == "decode:hd=64,page=16,gqa=8,kv=q8,q=f16,layout=nhd,paging=table,arch=sm_89"
    assert kvjit.Spec() == kvjit.Spec("decode")
    assert kvjit.Spec("decode:kv=int8", gqa=4) == kvjit.Spec(CANONICAL)
    assert spec.replace(kind="append").kind == "append"
    assert spec.replace(softcap=True).softcap is True
    assert str(spec.replace(softcap=True)).endswith(",softcap=1")
    assert spec.head_dim == 64  # replace returns a copy


def test_options_survive_replace():
    spec = kvjit.Spec("decode:kv=int8,gqa=4,mma=1")
    assert spec.mma is True and spec.backend == "nvrtc"
    assert spec.replace(gqa=8).mma is True
    assert str(spec.replace(gqa=8)).endswith(",mma=1")
    assert spec.replace(mma=False) == kvjit.Spec("decode:kv=int8,gqa=4,mma=0")
    assert str(spec.replace(mma=False)).endswith(",mma=0")
    assert spec.replace(mma=None) == kvjit.Spec("decode:kv=int8,gqa=4")
    assert kvjit.Spec("decode:kv=int8").mma is None
    # No tensor-core body (2-byte formats stop at head_dim 128): mma=0 is the same kernel as auto.
    assert kvjit.Spec("decode:kv=bf16,hd=256", mma=False).mma is None
    with pytest.raises(ValueError, match="mma=1"):
        kvjit.Spec("decode:kv=bf16,hd=256,mma=1")


def test_equality_hash_pickle():
    a, b = kvjit.Spec("decode:gqa=4,kv=int8"), kvjit.Spec(CANONICAL)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a == CANONICAL and a != "decode:hd=64" and a != "not a spec"
    assert pickle.loads(pickle.dumps(a)) == a


def test_immutable():
    spec = kvjit.Spec()
    with pytest.raises(AttributeError):
        spec.head_dim = 64


@pytest.mark.parametrize(
    "text, message",
    [
        ("decode:hd=100", "head_dim=100: must be a multiple of 16 in [32, 512]"),
        ("decode:page=24", "page_size=24: must be a power of two in [1, 256]"),
        ("decode:kv=int4", "kv=int4: must be one of f16, bf16, int8, q8, e4m3, e5m2"),
        ("decode:color=red", "unknown field 'color'"),
        ("prefill:hd=128", "kind=prefill: must be one of decode, append"),
        ("decode:arch=sm_75", "arch=sm_75: must be one of auto, sm_80"),
    ],
)
def test_invalid_text(text, message):
    with pytest.raises(kvjit.SpecError) as e:
        kvjit.Spec(text)
    assert message in str(e.value)
    assert isinstance(e.value, ValueError) and isinstance(e.value, kvjit.Error)


def test_invalid_keywords():
    with pytest.raises(kvjit.SpecError, match="head_dim=100"):
        kvjit.Spec(head_dim=100)
    with pytest.raises(TypeError, match="head_dim: expected an int"):
        kvjit.Spec(head_dim="128")
    with pytest.raises(TypeError, match="unknown spec field"):
        kvjit.Spec(headdim=128)
    with pytest.raises(TypeError):
        kvjit.Spec(128)
