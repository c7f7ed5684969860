"""kvjit.Spec: one kernel's description, backed by the C++ parser (one grammar, one set of error messages)."""

from __future__ import annotations

from . import _kvjit

# Field name -> the key the spec text uses. The canonical text is the single name of a kernel; a Spec built
# from keywords is turned into text and parsed, so the validation and the error messages are the C++ ones.
_KEYS = {
    "head_dim": "hd",
    "page_size": "page",
    "gqa": "gqa",
    "kv": "kv",
    "q": "q",
    "layout": "layout",
    "paging": "paging",
    "arch": "arch",
    "softcap": "softcap",
    "scale_dtype": "scale",
    "mma": "mma",
    "backend": "backend",
}
FIELDS = ("kind",) + tuple(_KEYS)


def _format_value(name: str, value) -> str:
    if name == "mma" and value in (None, "auto"):
        return "auto"
    if name in ("softcap", "mma"):
        if not isinstance(value, (bool, int)) or value not in (0, 1):
            raise TypeError(f"{name}: expected a bool, got {value!r}")
        return "1" if value else "0"
    if name in ("head_dim", "page_size", "gqa"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, got {type(value).__name__} {value!r}")
    return value


class Spec:
    """A kernel spec.

    Spec("decode:hd=128,gqa=4,kv=int8")          # spec text (fields in any order, defaults for the rest)
    Spec(kind="decode", head_dim=128, kv="int8")  # the same from fields
    Spec("decode:kv=int8", gqa=8)                 # text, then fields replaced

    str(spec) is the canonical text; the fields are read-only attributes (kind, head_dim, page_size, gqa, kv,
    q, layout, paging, arch, softcap, scale_dtype, mma, backend). scale_dtype is the element type of the int8 /
    q8 scale pools, "f16" (default) or "f32". mma is None (the default: tensor cores where the spec has
    that body), True (require them) or False (the CUDA-core body). Invalid values raise kvjit.SpecError naming the field, the value and
    what is allowed.
    """

    # Each field is a slot of its own besides the dict, so reading one is a plain attribute read: a launch
    # reads a dozen of them while checking its arguments.
    __slots__ = ("_fields",) + FIELDS

    def __init__(self, text: str | Spec | None = None, /, **fields):
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise TypeError(f"unknown spec field(s) {', '.join(sorted(unknown))} (fields: {', '.join(FIELDS)})")
        if isinstance(text, Spec):
            text = str(text)
        if text is not None and not isinstance(text, str):
            raise TypeError(f"Spec(text): expected str, got {type(text).__name__}")
        if text is not None:
            base = _kvjit.parse_spec(text)
            if not fields:
                self._fields = base
                return
            merged = {name: base[name] for name in FIELDS}
            merged.update(fields)
        else:
            merged = dict(fields)
        kind = merged.pop("kind", "decode")
        if not isinstance(kind, str):
            raise TypeError(f"kind: expected a str, got {type(kind).__name__} {kind!r}")
        items = [f"{_KEYS[name]}={_format_value(name, value)}" for name, value in merged.items()]
        self._fields = _kvjit.parse_spec(kind + (":" + ",".join(items) if items else ""))

    @classmethod
    def parse(cls, text: str) -> Spec:
        return cls(text)

    def replace(self, **fields) -> Spec:
        """A copy with some fields changed: spec.replace(kv="int8", arch="sm_90")."""
        return Spec(str(self), **fields)

    def __getattr__(self, name):
        if name in FIELDS:
            return self._fields[name]
        raise AttributeError(f"'Spec' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        if name == "_fields":
            object.__setattr__(self, name, value)
            for field in FIELDS:
                object.__setattr__(self, field, value[field])
        else:
            raise AttributeError("Spec is immutable; use spec.replace(...)")

    def __dir__(self):
        return sorted(set(FIELDS) | {"parse", "replace", "as_dict"})

    def as_dict(self) -> dict:
        return {name: self._fields[name] for name in FIELDS}

    def __str__(self) -> str:
        return self._fields["text"]

    def __repr__(self) -> str:
        return f"kvjit.Spec('{self}')"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = Spec(other)
            except ValueError:
                return False
        return isinstance(other, Spec) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __reduce__(self):
        return (Spec, (str(self),))


def as_spec(value) -> Spec:
    """A Spec from a Spec or spec text."""
    if isinstance(value, Spec):
        return value
    if isinstance(value, str):
        return Spec(value)
    raise TypeError(f"expected a kvjit.Spec or spec text, got {type(value).__name__}")
