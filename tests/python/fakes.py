"""Stand-ins for device tensors: objects with __cuda_array_interface__ and made-up pointers. They let the
argument checks run without a GPU; they are never launched (tests that would launch run without a driver)."""

import itertools

_next_ptr = itertools.count(0x7F0000000000, 0x1000000)


class FakeCudaArray:
    def __init__(self, shape, typestr, strides=None, ptr=None):
        self.__cuda_array_interface__ = {
            "shape": tuple(shape),
            "typestr": typestr,
            "data": (next(_next_ptr) if ptr is None else ptr, False),
            "strides": strides,
            "version": 3,
        }


F16, I8, I32, I64, F32 = "<f2", "|i1", "<i4", "<i8", "<f4"


def valid_decode_args(batch=3, kv_heads=2, gqa=4, head_dim=64, pages=12, page=16, blocks=4):
    """A decode:hd=64,gqa=4,kv=int8 call whose every argument is right."""
    import kvjit

    spec = kvjit.Spec(f"decode:hd={head_dim},gqa={gqa},kv=int8,page={page}")
    q = FakeCudaArray((batch, kv_heads * gqa, head_dim), F16)
    return spec, dict(
        q=q,
        k_cache=FakeCudaArray((pages, page, kv_heads, head_dim), I8),
        v_cache=FakeCudaArray((pages, page, kv_heads, head_dim), I8),
        k_scales=FakeCudaArray((pages, page, kv_heads), F16),
        v_scales=FakeCudaArray((pages, page, kv_heads), F16),
        block_table=FakeCudaArray((batch, blocks), I32),
        seq_lens=FakeCudaArray((batch,), I32),
        out=FakeCudaArray((batch, kv_heads * gqa, head_dim), F16),
    )


def valid_append_args(tokens=5, kv_heads=2, head_dim=64, pages=12, page=16):
    import kvjit

    spec = kvjit.Spec(f"append:hd={head_dim},kv=int8,page={page}")
    return spec, dict(
        k=FakeCudaArray((tokens, kv_heads, head_dim), F16),
        v=FakeCudaArray((tokens, kv_heads, head_dim), F16),
        k_cache=FakeCudaArray((pages, page, kv_heads, head_dim), I8),
        v_cache=FakeCudaArray((pages, page, kv_heads, head_dim), I8),
        k_scales=FakeCudaArray((pages, page, kv_heads), F16),
        v_scales=FakeCudaArray((pages, page, kv_heads), F16),
        slot_mapping=FakeCudaArray((tokens,), I64),
    )
