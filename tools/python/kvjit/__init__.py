"""kvjit: JIT-compiled attention kernels for quantized, paged KV caches.

    import kvjit
    spec = kvjit.Spec("decode:hd=128,gqa=4,kv=int8")
    kvjit.compile(spec.replace(arch="sm_90")).ptx      # no GPU needed
    kernel = kvjit.Engine().get(spec)                  # compiles once, loads on the current device
    out = kernel.decode(q, k_cache, v_cache, k_scales=ks, v_scales=vs, block_table=bt, seq_lens=lens)

Tensors may be torch tensors, or any object with __cuda_array_interface__ or __dlpack__. With torch, launches go
to torch's current stream. Errors are kvjit.Error subclasses: SpecError and ArgumentError (also ValueError),
CompileError, DriverError, CacheError, NotFoundError (also LookupError).
"""

from ._kvjit import (
    ArgumentError,
    CacheError,
    CompileError,
    DriverError,
    Error,
    NotFoundError,
    SpecError,
    __version__,
)
from ._launch import Engine, Kernel, append, decode, default_engine, pointer_array
from ._spec import Spec
from ._tools import CompiledKernel, Model, compile, dump, model_specs, models, nvrtc_version

__all__ = [
    "ArgumentError",
    "CacheError",
    "CompileError",
    "CompiledKernel",
    "DriverError",
    "Engine",
    "Error",
    "Kernel",
    "Model",
    "NotFoundError",
    "Spec",
    "SpecError",
    "__version__",
    "append",
    "compile",
    "decode",
    "default_engine",
    "dump",
    "model_specs",
    "models",
    "nvrtc_version",
    "pointer_array",
]
