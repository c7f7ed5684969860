"""Engine and Kernel: launching kvjit kernels on tensors.

Every argument is checked against the kernel's spec before anything reaches the driver: dtypes, shapes,
devices and contiguity, with messages that name the argument, what the spec needs and what was given.
Launches go to the given stream, else torch's current stream when the tensors are torch tensors, else the
legacy default stream. Nothing here allocates or synchronizes unless `out` is left for kvjit to allocate
(with torch), so a launch with every buffer given can be captured in a CUDA graph.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

from . import _kvjit
from ._spec import Spec, as_spec
from ._tensors import TensorView, _torch, is_torch_tensor, view

ArgumentError = _kvjit.ArgumentError

_Q_DTYPE = {"f16": "float16", "bf16": "bfloat16"}
# Cache storage dtypes per kv format. FP8 caches may also be given as raw bytes.
_KV_DTYPES = {
    "f16": ("float16",),
    "bf16": ("bfloat16",),
    "int8": ("int8",),
    "q8": ("int8",),
    "e4m3": ("float8_e4m3fn", "uint8", "int8"),
    "e5m2": ("float8_e5m2", "uint8", "int8"),
}
_POINTER_DTYPES = ("int64", "uint64")  # device arrays of pointers (paging=contig)


_SCALE_DTYPES = {"f16": "float16", "f32": "float32"}  # spec scale= -> the scale pool's array dtype


def _scale_columns(spec: Spec) -> int:
    """Scale-pool entries per cache row: 1 for int8, one per 32 elements for q8, 0 without scales."""
    return {"int8": 1, "q8": spec.head_dim // 32}.get(spec.kv, 0)


class _Checker:
    """Collects the views of one launch and checks each against the spec."""

    def __init__(self, spec: Spec, kernel_device: int | None):
        self.spec = spec
        self.kernel_device = kernel_device
        self.views: list[TensorView] = []

    def fail(self, message: str):
        raise ArgumentError(f"{self.spec}: {message}")

    def tensor(self, name, obj, *, dtypes, shape=None, ndim=None, what=None) -> TensorView:
        """`shape` may hold None for sizes not known yet; `what` names the dims for messages."""
        if obj is None:
            self.fail(f"{name} is required")
        v = view(name, obj)
        if v.device != "cuda":
            self.fail(f"{name} is on {v.where()}; kvjit kernels read CUDA device memory")
        if v.dtype not in dtypes:
            wanted = " or ".join(dtypes)
            self.fail(f"{name}: expected dtype {wanted}{self._dtype_reason(name)}, got {v.dtype}")
        want_ndim = len(shape) if shape is not None else ndim
        if want_ndim is not None and len(v.shape) != want_ndim:
            self.fail(f"{name}: expected {want_ndim} dimensions{f' {what}' if what else ''}, got shape "
                      f"{list(v.shape)}")
        if shape is not None and any(w is not None and w != g for w, g in zip(shape, v.shape)):
            expected = ", ".join("*" if w is None else str(w) for w in shape)
            self.fail(f"{name}: expected shape {what + ' = ' if what else ''}[{expected}], got {list(v.shape)}")
        if not v.is_contiguous():
            self.fail(f"{name} must be contiguous (strides {list(v.strides)} for shape {list(v.shape)}); "
                      "pass .contiguous()")
        if v.ptr == 0 and v.numel > 0:
            self.fail(f"{name} has a null data pointer")
        self.views.append(v)
        return v

    def _dtype_reason(self, name: str) -> str:
        s = self.spec
        if name in ("q", "out", "k", "v"):
            return f" (spec q={s.q})"
        if name in ("k_cache", "v_cache"):
            return f" (spec kv={s.kv})"
        if name in ("k_scales", "v_scales"):
            return f" (spec scale={s.scale_dtype})"
        return ""

    def absent(self, name, obj, why: str):
        if obj is not None:
            self.fail(f"{name} is not used {why}")

    def device(self) -> int | None:
        """The one CUDA device of all the tensors (None when no tensor said which)."""
        ids = {v.device_id for v in self.views if v.device_id is not None}
        if len(ids) > 1:
            where = ", ".join(f"{v.name} on {v.where()}" for v in self.views if v.device_id is not None)
            self.fail(f"tensors are on different devices: {where}")
        device = ids.pop() if ids else None
        if device is not None and self.kernel_device is not None and self.kernel_device >= 0 \
                and device != self.kernel_device:
            self.fail(f"tensors are on cuda:{device} but this kernel was loaded for cuda:{self.kernel_device}; "
                      f"use engine.get(spec, device={device})")
        return device


def _paged_cache(c: _Checker, k_cache, v_cache, k_scales, v_scales):
    """Checks paged K/V caches and their scale pools; returns (num_kv_heads, views)."""
    s = c.spec
    if s.layout == "nhd":
        what = "[pages, page_size, num_kv_heads, head_dim]"
        k = c.tensor("k_cache", k_cache, dtypes=_KV_DTYPES[s.kv], shape=(None, s.page_size, None, s.head_dim),
                     what=what)
        pages, _, heads, _ = k.shape
    else:
        what = "[pages, num_kv_heads, page_size, head_dim]"
        k = c.tensor("k_cache", k_cache, dtypes=_KV_DTYPES[s.kv], shape=(None, None, s.page_size, s.head_dim),
                     what=what)
        pages, heads, _, _ = k.shape
    v = c.tensor("v_cache", v_cache, dtypes=(k.dtype,), shape=k.shape, what=what)
    cols = _scale_columns(s)
    scales = {}
    if cols == 0:
        c.absent("k_scales", k_scales, f"by kv={s.kv} (no scale pool)")
        c.absent("v_scales", v_scales, f"by kv={s.kv} (no scale pool)")
    else:
        rows = pages * s.page_size * heads
        for name, obj in (("k_scales", k_scales), ("v_scales", v_scales)):
            scale_dtype = _SCALE_DTYPES[s.scale_dtype]
            if obj is None:
                c.fail(f"kv={s.kv} needs {name} ({scale_dtype}, one per "
                       f"{'row' if cols == 1 else '32 elements of a row'}: {rows * cols} for this cache)")
            sv = c.tensor(name, obj, dtypes=(scale_dtype,))
            if sv.numel != rows * cols:
                rows_shape = "[pages, page_size, num_kv_heads" if s.layout == "nhd" else \
                             "[pages, num_kv_heads, page_size"
                c.fail(f"{name}: expected {rows * cols} elements ({rows_shape}{'' if cols == 1 else ', head_dim / 32'}"
                       f"] = {rows} rows x {cols}), got shape {list(sv.shape)}")
            scales[name] = sv.ptr
    return heads, {"k_cache": k.ptr, "v_cache": v.ptr, **scales}


def _contig_cache(c: _Checker, batch, k_cache, v_cache, k_scales, v_scales, seq_capacity):
    """paging=contig: k_cache / v_cache are device arrays of [batch] pointers (see kvjit.pointer_array)."""
    s = c.spec
    if not isinstance(seq_capacity, int) or isinstance(seq_capacity, bool) or seq_capacity <= 0:
        c.fail(f"paging=contig needs seq_capacity (tokens each sequence's buffer holds), got {seq_capacity!r}")
    out = {"seq_capacity": seq_capacity}
    names = [("k_cache", "seq_k", k_cache), ("v_cache", "seq_v", v_cache)]
    if _scale_columns(s):
        names += [("k_scales", "seq_k_scales", k_scales), ("v_scales", "seq_v_scales", v_scales)]
    else:
        c.absent("k_scales", k_scales, f"by kv={s.kv} (no scale pool)")
        c.absent("v_scales", v_scales, f"by kv={s.kv} (no scale pool)")
    for name, field, obj in names:
        if obj is None:
            c.fail(f"paging=contig needs {name}: a [batch] device array of pointers (kvjit.pointer_array)")
        v = c.tensor(name, obj, dtypes=_POINTER_DTYPES, shape=(batch,) if batch is not None else None, ndim=1,
                     what="[batch] pointers")
        out[field] = v.ptr
    return out


def _torch_current_stream(torch, device: int) -> int:
    """torch's current stream on `device` as a handle. The raw getter (the one Triton uses) skips building a
    torch.cuda.Stream, which costs several microseconds of every launch."""
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if raw is not None:
        return raw(device)
    return torch.cuda.current_stream(device).cuda_stream


def _stream_handle(stream, first: TensorView) -> int:
    if stream is None:
        torch = _torch()
        if torch is not None and is_torch_tensor(first.obj) and first.device == "cuda":
            return _torch_current_stream(torch, first.device_id)
        return 0
    if isinstance(stream, int) and not isinstance(stream, bool):
        return stream
    if hasattr(stream, "__cuda_stream__"):  # the CUDA stream protocol: (version, handle)
        return int(stream.__cuda_stream__()[1])
    if hasattr(stream, "cuda_stream"):  # torch.cuda.Stream
        return int(stream.cuda_stream)
    if hasattr(stream, "ptr"):  # cupy.cuda.Stream
        return int(stream.ptr)
    raise TypeError(f"stream: expected an int handle, a torch/cupy stream or an object with __cuda_stream__, "
                    f"got {type(stream).__name__}")


def _run_on(device: int | None, launch, *args) -> None:
    """launch(*args) with `device` current; without a device guard where torch already has it current (the
    usual case, and the guard costs microseconds a launch)."""
    if device is not None and device >= 0:
        torch = _torch()
        if torch is not None and torch.cuda.is_initialized() and torch.cuda.current_device() == device:
            launch(*args)
            return
    with device_scope(device):
        launch(*args)


@contextmanager
def device_scope(device: int | None):
    """Makes `device` current for the body (torch's device guard when torch has started CUDA)."""
    if device is None or device < 0:
        yield
        return
    torch = _torch()
    if torch is not None and torch.cuda.is_initialized():
        with torch.cuda.device(device):
            yield
        return
    previous = _kvjit.use_device(device)
    try:
        yield
    finally:
        _kvjit.restore_context(previous)


def _positive_float(c: _Checker, name, value, *, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        c.fail(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        c.fail(f"{name}={value}: must be {'non-negative' if allow_zero else 'positive'} and finite")
    return value


def _int(c: _Checker, name, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        c.fail(f"{name}: expected an int >= {minimum}, got {value!r}")
    return value


def check_decode(spec: Spec, kernel_device, q, k_cache, v_cache, *, block_table=None, seq_lens=None, indptr=None,
                 indices=None, last_page_len=None, k_scales=None, v_scales=None, out=None, lse=None,
                 sm_scale=None, k_scale=1.0, v_scale=1.0, softcap=0.0, window=0, seq_capacity=None,
                 workspace=None, max_seq_len=0, num_splits=0, cta_warps=0, pdl=False, allocate_out=True):
    """Checks decode arguments against `spec`; returns (launch dict, q view, out, checker). Without `out`,
    allocates it like q (torch) when allocate_out, else leaves it unchecked."""
    s = spec
    c = _Checker(s, kernel_device)
    if s.kind != "decode":
        c.fail("this is an append kernel; use append()")
    qv = c.tensor("q", q, dtypes=(_Q_DTYPE[s.q],), shape=(None, None, s.head_dim),
                  what="[batch, num_q_heads, head_dim]")
    batch, num_q_heads, _ = qv.shape
    if batch == 0:
        c.fail("q has batch 0: nothing to decode")
    if num_q_heads % s.gqa:
        c.fail(f"q has {num_q_heads} heads, not a multiple of gqa={s.gqa}")
    args = {"q": qv.ptr, "batch": batch}
    if s.paging == "contig":
        heads = num_q_heads // s.gqa
        args.update(_contig_cache(c, batch, k_cache, v_cache, k_scales, v_scales, seq_capacity))
    else:
        c.absent("seq_capacity", seq_capacity, f"by paging={s.paging}")
        heads, ptrs = _paged_cache(c, k_cache, v_cache, k_scales, v_scales)
        args.update(ptrs)
        if heads * s.gqa != num_q_heads:
            c.fail(f"q has {num_q_heads} heads but the cache has {heads} kv heads x gqa={s.gqa} = "
                   f"{heads * s.gqa}")
    args["num_kv_heads"] = heads

    index = ("int32",)
    if s.paging == "table":
        bt = c.tensor("block_table", block_table, dtypes=index, shape=(batch, None),
                      what="[batch, max_blocks_per_seq]")
        if bt.shape[1] == 0:
            c.fail("block_table has 0 columns")
        args["block_table"], args["max_blocks_per_seq"] = bt.ptr, bt.shape[1]
    else:
        c.absent("block_table", block_table, f"by paging={s.paging}")
    if s.paging in ("table", "contig"):
        args["seq_lens"] = c.tensor("seq_lens", seq_lens, dtypes=index, shape=(batch,), what="[batch]").ptr
    else:
        c.absent("seq_lens", seq_lens, "by paging=csr (last_page_len and indptr give the lengths)")
    if s.paging == "csr":
        args["indptr"] = c.tensor("indptr", indptr, dtypes=index, shape=(batch + 1,), what="[batch + 1]").ptr
        args["indices"] = c.tensor("indices", indices, dtypes=index, ndim=1, what="[total pages]").ptr
        args["last_page_len"] = c.tensor("last_page_len", last_page_len, dtypes=index, shape=(batch,),
                                         what="[batch]").ptr
    else:
        for name, obj in (("indptr", indptr), ("indices", indices), ("last_page_len", last_page_len)):
            c.absent(name, obj, f"by paging={s.paging}")

    if out is None and not is_torch_tensor(qv.obj):
        c.fail("out is required when q is not a torch tensor")
    if out is None and allocate_out:
        out = _torch().empty_like(qv.obj)
    if out is not None:
        ov = c.tensor("out", out, dtypes=(qv.dtype,), shape=qv.shape, what="like q")
        if ov.ptr == qv.ptr:
            c.fail("out must not alias q")
        args["o"] = ov.ptr
    if lse is not None:
        args["lse"] = c.tensor("lse", lse, dtypes=("float32",), shape=(batch, num_q_heads),
                               what="[batch, num_q_heads]").ptr
    if workspace is not None:
        w = c.tensor("workspace", workspace, dtypes=tuple(_KV_DTYPES_ANY))
        args["workspace"], args["workspace_bytes"] = w.ptr, w.nbytes
    args["sm_scale"] = _positive_float(c, "sm_scale", 1.0 / math.sqrt(s.head_dim) if sm_scale is None else sm_scale)
    args["k_scale"] = _positive_float(c, "k_scale", k_scale)
    args["v_scale"] = _positive_float(c, "v_scale", v_scale)
    if s.softcap:
        args["softcap"] = _positive_float(c, "softcap", softcap)
    elif softcap:
        c.fail(f"softcap={softcap} needs a spec with softcap=1")
    args["window"] = _int(c, "window", window)
    args["max_seq_len"] = _int(c, "max_seq_len", max_seq_len)
    args["num_splits"] = _int(c, "num_splits", num_splits)
    args["cta_warps"] = _int(c, "cta_warps", cta_warps)  # a size the kernel lacks is refused at launch
    if not isinstance(pdl, bool) and type(pdl).__name__ != "bool_":  # bool or numpy.bool_
        c.fail(f"pdl: expected a bool, got {pdl!r}")
    args["pdl"] = bool(pdl)
    return args, qv, out, c


def check_append(spec: Spec, kernel_device, k, v, k_cache, v_cache, slot_mapping, *, k_scales=None, v_scales=None,
                 k_scale=1.0, v_scale=1.0, seq_capacity=None):
    s = spec
    c = _Checker(s, kernel_device)
    if s.kind != "append":
        c.fail("this is a decode kernel; use decode()")
    kv = c.tensor("k", k, dtypes=(_Q_DTYPE[s.q],), shape=(None, None, s.head_dim),
                  what="[num_tokens, num_kv_heads, head_dim]")
    num_tokens, heads, _ = kv.shape
    vv = c.tensor("v", v, dtypes=(kv.dtype,), shape=kv.shape, what="like k")
    args = {"k": kv.ptr, "v": vv.ptr, "num_tokens": num_tokens, "num_kv_heads": heads}
    if s.paging == "contig":
        args.update(_contig_cache(c, None, k_cache, v_cache, k_scales, v_scales, seq_capacity))
    else:
        c.absent("seq_capacity", seq_capacity, f"by paging={s.paging}")
        cache_heads, ptrs = _paged_cache(c, k_cache, v_cache, k_scales, v_scales)
        if cache_heads != heads:
            c.fail(f"k has {heads} kv heads but the cache has {cache_heads}")
        args.update(ptrs)
    args["slot_mapping"] = c.tensor("slot_mapping", slot_mapping, dtypes=("int64",), shape=(num_tokens,),
                                    what="[num_tokens]").ptr
    args["k_scale"] = _positive_float(c, "k_scale", k_scale)
    args["v_scale"] = _positive_float(c, "v_scale", v_scale)
    return args, kv, c


_KV_DTYPES_ANY = ("float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64",
                  "uint32", "uint64", "bool", "float8_e4m3fn", "float8_e5m2")


class Kernel:
    """A kernel loaded for one device. decode()/append() check their arguments and launch."""

    def __init__(self, native):
        self._native = native
        self.spec = Spec(native.spec)

    @property
    def device(self) -> int:
        return self._native.device

    @property
    def loaded_from_cubin(self) -> bool:
        return self._native.loaded_from_cubin

    def decode_workspace_bytes(self, batch: int, num_kv_heads: int) -> int:
        """Bytes of split-KV workspace for up to `batch` sequences (allocate once, zero once)."""
        return self._native.decode_workspace_bytes(batch, num_kv_heads)

    def decode_grid(self, batch: int, num_kv_heads: int, max_seq_len: int = 0) -> tuple[int, int]:
        """(warps a CTA, KV partitions a sequence) that a decode launch takes with cta_warps=0 and num_splits=0
        and a workspace of decode_workspace_bytes (max_seq_len: its longest sequence; 0: no split)."""
        for name, value, minimum in (("batch", batch, 1), ("num_kv_heads", num_kv_heads, 1),
                                     ("max_seq_len", max_seq_len, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"decode_grid: {name} must be an int >= {minimum}, got {value!r}")
        return tuple(self._native.decode_grid(batch, num_kv_heads, max_seq_len))

    def decode(self, q, k_cache, v_cache, *, stream=None, **kwargs):
        """Attention of one new token per sequence over the cache; returns `out` ([batch, num_q_heads, head_dim]).

        q: [batch, num_q_heads, head_dim] (spec q dtype). k_cache, v_cache: the paged caches in the spec's layout
        (paging=contig: [batch] pointer arrays and seq_capacity=). Paging: block_table + seq_lens (table),
        indptr + indices + last_page_len (csr), seq_lens (contig). k_scales / v_scales for kv=int8 and q8.
        Optional: out, lse ([batch, num_q_heads] float32), sm_scale (default 1/sqrt(head_dim)), k_scale /
        v_scale (fp8), softcap, window, workspace + max_seq_len / num_splits (split-KV), cta_warps (0: chosen per
        launch; else one of the kernel's CTA sizes, see decode_grid), pdl (programmatic dependent launch on
        sm_90+: the launch overlaps the previous kernel's end; same results), stream.
        """
        return self._decode(self.spec, q, k_cache, v_cache, stream, kwargs)

    def _decode(self, asked: Spec, q, k_cache, v_cache, stream, kwargs):
        """decode(); argument errors name `asked`, the spec as the caller wrote it (arch=auto, say), which
        the checks read the same way as this kernel's resolved spec."""
        args, qv, out, checker = check_decode(asked, self.device, q, k_cache, v_cache, **kwargs)
        device = checker.device()
        handle = _stream_handle(stream, qv)
        _run_on(self.device if device is None else device, self._native.decode, handle, args)
        return out

    def append(self, k, v, k_cache, v_cache, slot_mapping, *, stream=None, **kwargs):
        """Quantizes and stores new tokens: k, v [num_tokens, num_kv_heads, head_dim] (spec q dtype) into the
        caches at slot_mapping ([num_tokens] int64, page * page_size + slot; negative skips the token)."""
        self._append(self.spec, k, v, k_cache, v_cache, slot_mapping, stream, kwargs)

    def _append(self, asked: Spec, k, v, k_cache, v_cache, slot_mapping, stream, kwargs):
        """append(); argument errors name `asked` (see _decode)."""
        args, kv, checker = check_append(asked, self.device, k, v, k_cache, v_cache, slot_mapping, **kwargs)
        device = checker.device()
        handle = _stream_handle(stream, kv)
        _run_on(self.device if device is None else device, self._native.append, handle, args)

    def __repr__(self):
        return f"kvjit.Kernel('{self.spec}', device={self.device})"


class Engine:
    """Turns specs into kernels: compiles at most once (module cache), loads once per device."""

    def __init__(self):
        self._native = _kvjit.Engine()
        self._kernels: dict[tuple[str, int | None], Kernel] = {}

    def get(self, spec, device: int | None = None) -> Kernel:
        """The kernel for `spec` on `device` (default: the current device); arch=auto resolves to it."""
        spec = as_spec(spec)
        if device is None:
            device = _current_device()
        key = (str(spec), device)
        kernel = self._kernels.get(key)
        if kernel is None:
            with device_scope(device):
                kernel = Kernel(self._native.get(str(spec)))
            self._kernels[key] = kernel
        return kernel

    def prefetch(self, specs) -> None:
        """Compiles specs in the background (no GPU needed for specs with a concrete arch)."""
        self._native.prefetch([str(as_spec(s)) for s in specs])

    def wait_prefetch(self) -> None:
        self._native.wait_prefetch()


def _current_device() -> int:
    """The device launches go to when none is named: torch's current device once torch has started CUDA, else
    the current context's, else 0 (the device whose primary context kvjit then makes current)."""
    torch = _torch()
    if torch is not None and torch.cuda.is_initialized():
        return torch.cuda.current_device()
    device = _kvjit.current_device()
    return device if device >= 0 else 0


_default_engine: Engine | None = None


def default_engine() -> Engine:
    global _default_engine
    if _default_engine is None:
        _default_engine = Engine()
    return _default_engine


def _first_device(obj) -> int | None:
    v = view("q", obj)
    return v.device_id if v.device == "cuda" else None


def _loaded_kernel(engine: Engine, spec: Spec, first) -> Kernel | None:
    """The kernel for `spec` on the device of torch tensor `first` if `engine` has loaded it already, else None."""
    if not is_torch_tensor(first) or not first.is_cuda:
        return None
    return engine._kernels.get((str(spec), first.get_device()))


def decode(spec, q, k_cache, v_cache, *, engine: Engine | None = None, **kwargs):
    """kvjit.decode(spec, q, k_cache, v_cache, ...): Kernel.decode through the default engine."""
    spec = as_spec(spec)
    engine = engine or default_engine()
    kernel = _loaded_kernel(engine, spec, q)
    if kernel is None:
        # Arguments are checked before any kernel is compiled or loaded (Kernel.decode checks them again).
        check_decode(spec, None, q, k_cache, v_cache, allocate_out=False,
                     **{k: v for k, v in kwargs.items() if k != "stream"})
        kernel = engine.get(spec, device=_first_device(q))
    stream = kwargs.pop("stream", None)
    return kernel._decode(spec, q, k_cache, v_cache, stream, kwargs)


def append(spec, k, v, k_cache, v_cache, slot_mapping, *, engine: Engine | None = None, **kwargs):
    """kvjit.append(spec, k, v, k_cache, v_cache, slot_mapping, ...): Kernel.append through the default engine."""
    spec = as_spec(spec)
    engine = engine or default_engine()
    kernel = _loaded_kernel(engine, spec, k)
    if kernel is None:
        check_append(spec, None, k, v, k_cache, v_cache, slot_mapping, **{k_: v_ for k_, v_ in kwargs.items()
                                                                           if k_ != "stream"})
        kernel = engine.get(spec, device=_first_device(k))
    stream = kwargs.pop("stream", None)
    kernel._append(spec, k, v, k_cache, v_cache, slot_mapping, stream, kwargs)


def pointer_array(tensors, device=None):
    """A [len(tensors)] int64 torch tensor of the tensors' data pointers on their device, for paging=contig.
    Needs torch. Build it once and keep it: a launch that uses it can then be captured in a CUDA graph."""
    torch = _torch()
    if torch is None:
        raise ArgumentError("pointer_array needs torch (or build the [batch] pointer array yourself)")
    tensors = list(tensors)
    if not tensors:
        raise ArgumentError("pointer_array: no tensors")
    device = device if device is not None else tensors[0].device
    return torch.tensor([t.data_ptr() for t in tensors], dtype=torch.int64, device=device)
