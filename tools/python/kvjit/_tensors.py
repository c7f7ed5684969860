"""Reading tensors from torch, from any object with __cuda_array_interface__ (CuPy, Numba, ...) and from any
object with __dlpack__ (JAX, NumPy, ...), as a TensorView: pointer, shape, strides, dtype name and device.
No copies are made; the view keeps the object alive."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from . import _kvjit

# dtype names follow torch's (without the "torch." prefix).
_TYPESTR = {  # __cuda_array_interface__ typestr (endianness stripped) -> name
    "f2": "float16",
    "f4": "float32",
    "f8": "float64",
    "i1": "int8",
    "u1": "uint8",
    "i2": "int16",
    "i4": "int32",
    "i8": "int64",
    "u4": "uint32",
    "u8": "uint64",
    "b1": "bool",
}
_DLPACK_CODE = {0: "int", 1: "uint", 2: "float", 4: "bfloat", 6: "bool", 10: "float8_e4m3fn", 12: "float8_e5m2"}
_DLPACK_CPU, _DLPACK_CUDA, _DLPACK_CUDA_HOST, _DLPACK_CUDA_MANAGED = 1, 2, 3, 13

ITEMSIZE = {
    "float16": 2,
    "bfloat16": 2,
    "float32": 4,
    "float64": 8,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "int32": 4,
    "int64": 8,
    "uint32": 4,
    "uint64": 8,
    "bool": 1,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
}


@dataclass
class TensorView:
    name: str  # the argument name, for messages
    ptr: int
    shape: tuple
    strides: tuple | None  # in elements; None = C-contiguous
    dtype: str
    device: str  # "cuda" or "cpu"
    device_id: int | None  # None: a CUDA pointer whose device the producer did not say
    obj: object = field(repr=False, default=None)

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * ITEMSIZE.get(self.dtype, 0)

    def is_contiguous(self) -> bool:
        if self.strides is None:
            return True
        expected = 1
        for size, stride in zip(reversed(self.shape), reversed(self.strides)):
            if size != 1 and stride != expected:
                return False
            expected *= size
        return True

    def where(self) -> str:
        if self.device == "cuda":
            return "cuda" if self.device_id is None else f"cuda:{self.device_id}"
        return self.device


def _torch():
    """torch if it is already imported (kvjit never imports it by itself)."""
    return sys.modules.get("torch")


def is_torch_tensor(obj) -> bool:
    torch = _torch()
    return torch is not None and isinstance(obj, torch.Tensor)


_TORCH_DTYPE_NAMES: dict = {}  # torch.dtype -> its name, as dtypes are first seen (str() of one is slow)


def _from_torch(name: str, t) -> TensorView:
    dtype = _TORCH_DTYPE_NAMES.get(t.dtype)
    if dtype is None:
        dtype = _TORCH_DTYPE_NAMES[t.dtype] = str(t.dtype).removeprefix("torch.")
    if t.is_cuda:
        # A CUDA tensor always names its device. Strides only where they matter (None: C-contiguous); torch's
        # is_contiguous, like TensorView's, ignores the strides of size-1 dims.
        strides = None if t.is_contiguous() else tuple(t.stride())
        return TensorView(name, t.data_ptr(), tuple(t.shape), strides, dtype, "cuda", t.get_device(), t)
    return TensorView(name, t.data_ptr(), tuple(t.shape), tuple(t.stride()), dtype, t.device.type, None, t)


def _from_cai(name: str, obj, cai: dict) -> TensorView:
    typestr = cai["typestr"]
    dtype = _TYPESTR.get(typestr[1:])
    if dtype is None:
        raise TypeError(f"{name}: unsupported __cuda_array_interface__ typestr {typestr!r} (bfloat16 and fp8 "
                        "tensors need torch or __dlpack__)")
    itemsize = ITEMSIZE[dtype]
    strides = cai.get("strides")
    if strides is not None:
        if any(s % itemsize for s in strides):
            raise ValueError(f"{name}: strides {strides} are not multiples of the item size {itemsize}")
        strides = tuple(s // itemsize for s in strides)
    ptr = cai["data"][0] or 0
    # The interface does not name the device: the pointer's own context decides.
    return TensorView(name, ptr, tuple(cai["shape"]), strides, dtype, "cuda", None, obj)


def _from_dlpack(name: str, obj) -> TensorView:
    info = _kvjit.dlpack_info(obj)
    code, bits, lanes = info["code"], info["bits"], info["lanes"]
    kind = _DLPACK_CODE.get(code)
    if kind is None or lanes != 1:
        raise TypeError(f"{name}: unsupported DLPack dtype (code {code}, {bits} bits, {lanes} lanes)")
    dtype = kind if kind.startswith("float8") or kind == "bool" else f"{kind}{bits}"
    if dtype not in ITEMSIZE:
        raise TypeError(f"{name}: unsupported DLPack dtype {dtype}")
    device_type = info["device_type"]
    if device_type in (_DLPACK_CUDA, _DLPACK_CUDA_MANAGED):
        device, device_id = "cuda", info["device_id"]
    elif device_type == _DLPACK_CPU:
        device, device_id = "cpu", None
    elif device_type == _DLPACK_CUDA_HOST:
        device, device_id = "cuda_host", None
    else:
        device, device_id = f"dlpack device type {device_type}", None
    return TensorView(name, info["ptr"], info["shape"], info["strides"], dtype, device, device_id, obj)


def view(name: str, obj) -> TensorView:
    """A TensorView of `obj`, which is a torch tensor, has __cuda_array_interface__, or has __dlpack__."""
    if is_torch_tensor(obj):
        return _from_torch(name, obj)
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        return _from_cai(name, obj, cai)
    if hasattr(obj, "__dlpack__"):
        return _from_dlpack(name, obj)
    raise TypeError(f"{name}: expected a torch tensor or an object with __cuda_array_interface__ or __dlpack__, "
                    f"got {type(obj).__name__}")
