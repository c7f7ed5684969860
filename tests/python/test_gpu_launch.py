"""GPU: how launches reach the device from Python: torch's current stream, explicit streams, CUDA graph
capture through torch, tensors given through __cuda_array_interface__ and DLPack, and argument errors with
real tensors. Skips without torch or a CUDA device."""

import math

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

import kvjit  # noqa: E402
from gpu_support import DEVICE, Cache, Paging, fill_cache, reference_decode, rel_l2  # noqa: E402

SPEC = kvjit.Spec("decode:hd=128,gqa=4,kv=int8")
HEADS = 2


def setup_case(lens=(300, 17, 1024), seed=0, capacity=None):
    paging = Paging(list(lens), SPEC.page_size, seed=seed, capacity=capacity)
    cache = Cache(SPEC, paging.num_pages, HEADS)
    fill_cache(SPEC, cache, paging, HEADS, seed)
    q = torch.randn((len(lens), HEADS * SPEC.gqa, SPEC.head_dim), device=DEVICE).half()
    return paging, cache, q


def reference(paging, cache, q, lens):
    k_deq, v_deq = cache.dequantized(True), cache.dequantized(False)
    k = [cache.sequence(k_deq, p, n) for p, n in zip(paging.pages, lens)]
    v = [cache.sequence(v_deq, p, n) for p, n in zip(paging.pages, lens)]
    return reference_decode(q, k, v, SPEC.gqa, 1.0 / math.sqrt(SPEC.head_dim))[0]


def test_kernel_handles():
    engine = kvjit.Engine()
    kernel = engine.get(SPEC)
    assert kernel is engine.get(str(SPEC))  # one handle per spec and device
    assert kernel.spec.arch != "auto" and kernel.spec.replace(arch="auto") == SPEC
    assert kernel.device == torch.cuda.current_device()
    assert kernel.decode_workspace_bytes(4, 8) > 0


def test_launches_follow_torchs_current_stream():
    paging, cache, q = setup_case()
    kernel = kvjit.default_engine().get(SPEC)
    want = reference(paging, cache, q, paging.seq_lens_list)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out = kernel.decode(q, **cache.kwargs(), **paging.decode_kwargs("table"))
    side.synchronize()
    assert rel_l2(out, want) <= 2e-3
    other = torch.cuda.Stream()
    out2 = torch.empty_like(q)
    kernel.decode(q, out=out2, stream=other, **cache.kwargs(), **paging.decode_kwargs("table"))
    other.synchronize()
    assert torch.equal(out, out2)


def test_cuda_graph_replay_matches_eager():
    """append + decode captured once with torch.cuda.graph, replayed with new lengths and new tokens."""
    lens = [300, 17, 1024]
    paging, cache, q = setup_case(lens, capacity=[l + 8 for l in lens])
    append = kvjit.default_engine().get(SPEC.replace(kind="append"))
    decode = kvjit.default_engine().get(SPEC)
    batch = len(lens)
    k_new = torch.zeros((batch, HEADS, SPEC.head_dim), dtype=torch.float16, device=DEVICE)
    v_new = torch.zeros_like(k_new)
    slots = torch.zeros(batch, dtype=torch.int64, device=DEVICE)
    seq_lens = paging.seq_lens.clone()
    out = torch.zeros_like(q)

    def step():
        append.append(k_new, v_new, slot_mapping=slots, **cache.kwargs())
        decode.decode(q, out=out, block_table=paging.block_table, seq_lens=seq_lens, **cache.kwargs())

    def stage(i):  # the inputs of step i: one new token per sequence
        positions = [n + i for n in lens]
        slots.copy_(torch.tensor([paging.slot(b, p) for b, p in enumerate(positions)], device=DEVICE))
        seq_lens.copy_(torch.tensor([p + 1 for p in positions], device=DEVICE))
        k_new.normal_()
        v_new.normal_()
        q.normal_()
        return [p + 1 for p in positions]

    stage(0)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step()  # warm-up outside the capture
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    for i in range(1, 4):
        now = stage(i)
        graph.replay()
        replayed = out.clone()
        step()  # eager: appends the same bytes to the same slots, so the cache is unchanged
        torch.cuda.synchronize()
        assert torch.equal(replayed, out), f"step {i}: graph replay differs from eager launches"
        assert rel_l2(out, reference(paging, cache, q, now)) <= 2e-3


class CudaArrayInterface:
    """Exposes a torch tensor only through __cuda_array_interface__ (as CuPy or Numba arrays do)."""

    def __init__(self, t):
        self.t = t
        self.__cuda_array_interface__ = t.__cuda_array_interface__


class DLPackOnly:
    """Exposes a torch tensor only through DLPack (as JAX arrays do)."""

    def __init__(self, t):
        self.t = t

    def __dlpack__(self, **kwargs):
        return self.t.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.t.__dlpack_device__()


@pytest.mark.parametrize("wrap", [CudaArrayInterface, DLPackOnly], ids=["cuda_array_interface", "dlpack"])
def test_non_torch_tensors(wrap):
    paging, cache, q = setup_case()
    want = reference(paging, cache, q, paging.seq_lens_list)
    out = torch.zeros_like(q)
    args = {name: wrap(t) if isinstance(t, torch.Tensor) else t
            for name, t in dict(**cache.kwargs(), **paging.decode_kwargs("table")).items()}
    torch.cuda.synchronize()  # launches on the legacy default stream: no torch stream to follow
    kvjit.decode(SPEC, wrap(q), out=wrap(out), **args)
    torch.cuda.synchronize()
    assert rel_l2(out, want) <= 2e-3


def test_argument_errors_with_real_tensors():
    paging, cache, q = setup_case()
    args = dict(**cache.kwargs(), **paging.decode_kwargs("table"))
    with pytest.raises(kvjit.ArgumentError, match="q is on cpu"):
        kvjit.decode(SPEC, q.cpu(), **args)
    with pytest.raises(kvjit.ArgumentError, match="q: expected dtype float16 \\(spec q=f16\\), got float32"):
        kvjit.decode(SPEC, q.float(), **args)
    with pytest.raises(kvjit.ArgumentError, match="k_cache must be contiguous"):
        kvjit.decode(SPEC.replace(layout="hnd"), q, **dict(args, k_cache=cache.k.transpose(1, 2),
                                                            v_cache=cache.v.transpose(1, 2).contiguous(),
                                                            k_scales=cache.k_scales.transpose(1, 2).contiguous(),
                                                            v_scales=cache.v_scales.transpose(1, 2).contiguous()))
    with pytest.raises(kvjit.ArgumentError, match="out must not alias q"):
        kvjit.decode(SPEC, q, out=q, **args)
    with pytest.raises(kvjit.ArgumentError, match="seq_lens: expected dtype int32, got int64"):
        kvjit.decode(SPEC, q, **dict(args, seq_lens=paging.seq_lens.long()))


def test_errors_name_the_spec_as_written_once_its_kernel_is_loaded():
    """kvjit.decode checks once where the kernel is loaded already; its errors still name the caller's spec
    (arch=auto here), not the kernel's resolved one."""
    paging, cache, q = setup_case()
    args = dict(**cache.kwargs(), **paging.decode_kwargs("table"))
    kvjit.decode(SPEC, q, **args)  # loads the kernel
    with pytest.raises(kvjit.ArgumentError) as e:
        kvjit.decode(SPEC, q, **dict(args, seq_lens=paging.seq_lens.long()))
    assert str(e.value).startswith(str(SPEC) + ": seq_lens: expected dtype int32"), str(e.value)
    assert "arch=auto" in str(SPEC)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_tensors_on_another_device_are_refused():
    paging, cache, q = setup_case()
    kernel = kvjit.Engine().get(SPEC, device=0)
    args = {name: t.to("cuda:1") if isinstance(t, torch.Tensor) else t
            for name, t in dict(**cache.kwargs(), **paging.decode_kwargs("table")).items()}
    with pytest.raises(kvjit.ArgumentError, match="loaded for cuda:0"):
        kernel.decode(q.to("cuda:1"), **args)
    with pytest.raises(kvjit.ArgumentError, match="different devices"):
        kernel.decode(q, **args)
