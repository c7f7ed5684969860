"""Compiling and inspecting kernels without a GPU: compile(), dump(), models(), model_specs()."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import NamedTuple

from . import _kvjit
from ._spec import Spec, as_spec


@dataclass(frozen=True)
class CompiledKernel:
    """What NVRTC produced for one spec: PTX, cubin (empty when only PTX was asked for), the log and a report
    of resource use (registers, shared_bytes, stack_bytes, spill_store_bytes, spill_load_bytes; -1 = unknown)."""

    spec: Spec
    symbol: str
    ptx: str
    cubin: bytes
    log: str
    options: tuple
    backend: str
    compile_ms: float
    report: dict = field(repr=False)


_REPORT_KEYS = ("registers", "shared_bytes", "stack_bytes", "spill_store_bytes", "spill_load_bytes",
                "threads_per_cta", "wide_threads_per_cta", "heads_per_cta")


def _concrete(spec: Spec, what: str) -> Spec:
    if spec.arch == "auto":
        raise _kvjit.SpecError(f"{spec}: {what} needs a concrete arch (e.g. arch='sm_90'); arch=auto is resolved "
                               "from a device by Engine.get")
    return spec


def compile(spec, *, cubin: bool = True) -> CompiledKernel:  # noqa: A001 - mirrors the C++ compile_spec
    """Compiles a spec with NVRTC (no GPU needed). cubin=False compiles PTX only (faster, no register report)."""
    spec = _concrete(as_spec(spec), "compile()")
    d = _kvjit.compile(str(spec), cubin)
    report = {key: d[key] for key in _REPORT_KEYS}
    return CompiledKernel(spec=spec, symbol=d["symbol"], ptx=d["ptx"], cubin=d["cubin"], log=d["log"],
                          options=tuple(d["options"]), backend=d["backend"], compile_ms=d["compile_ms"],
                          report=report)


def _write(path: str, data) -> None:
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with open(path, mode) as f:
        f.write(data)


def dump(specs, out_dir: str = "kvjit-dump") -> list[str]:
    """Like `kvjit dump`: for each spec writes <stem>.cu (the specialized source), .ptx, .cubin, .log and a .json
    report to out_dir, and the templates beside them so the .cu files recompile as they are (nvcc -I out_dir).
    Returns the stems written (paths without extension)."""
    if isinstance(specs, (str, Spec)):
        specs = [specs]
    specs = [_concrete(as_spec(s), "dump()") for s in specs]
    os.makedirs(out_dir, exist_ok=True)
    for name, text in _kvjit.templates():
        path = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write(path, text)
    stems = []
    for spec in specs:
        stem = os.path.join(out_dir, _kvjit.file_stem(str(spec)))
        source = _kvjit.specialize(str(spec))
        _write(stem + ".cu", source["source"])
        k = compile(spec)
        _write(stem + ".ptx", k.ptx)
        _write(stem + ".cubin", k.cubin)
        _write(stem + ".log", k.log)
        report = {"spec": str(spec), "symbol": k.symbol, "backend": k.backend, "options": list(k.options),
                  "compile_ms": k.compile_ms, **k.report, "ptx_bytes": len(k.ptx), "cubin_bytes": len(k.cubin)}
        _write(stem + ".json", json.dumps(report, indent=2) + "\n")
        stems.append(stem)
    return stems


class Model(NamedTuple):
    name: str
    head_dim: int
    num_q_heads: int
    num_kv_heads: int
    source: str  # where the numbers come from

    @property
    def gqa(self) -> int:
        return self.num_q_heads // self.num_kv_heads


def models() -> list[Model]:
    """The built-in model presets (`kvjit models`)."""
    return [Model(*m) for m in _kvjit.models()]


def model_specs(name: str, base=None, **fields) -> list[Spec]:
    """The append and decode specs a model preset needs; other fields from `base` and `fields`:
    model_specs("llama-3-8b", kv="int8", arch="sm_90")."""
    base_spec = as_spec(base) if base is not None else Spec()
    if fields:
        base_spec = base_spec.replace(**fields)
    return [Spec(text) for text in _kvjit.model_specs(name, str(base_spec))]


def nvrtc_version() -> str:
    return _kvjit.nvrtc_version()
