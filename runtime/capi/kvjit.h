/* kvjit C API: the host-engine API of runtime/engine.h for engines written in C, Rust, Go or anything with a
 * C FFI. Built as libkvjit.so; only the kvjit_* functions below are exported.
 *
 *   kvjit_spec spec;
 *   kvjit_engine* engine = NULL;
 *   kvjit_kernel* kernel = NULL;
 *   if (kvjit_spec_parse("decode:hd=128,gqa=4,kv=int8", &spec) != KVJIT_OK ||
 *       kvjit_engine_create(&engine) != KVJIT_OK ||
 *       kvjit_engine_get(engine, &spec, &kernel) != KVJIT_OK)
 *     fprintf(stderr, "kvjit: %s\n", kvjit_last_error());
 *   kvjit_decode_args args;
 *   kvjit_decode_args_init(&args);              // struct_size and defaults
 *   args.q = ...;                               // device pointers, batch, heads, paging, scales
 *   kvjit_kernel_decode(kernel, stream, &args); // stream: a CUstream (or cudaStream_t) as void*
 *   kvjit_kernel_release(kernel);
 *   kvjit_engine_destroy(engine);
 *
 * Conventions:
 * - Every function that can fail returns a kvjit_status. On failure, kvjit_last_error() gives this thread's
 *   message (the spec, the call and the cause); on success it is cleared to "". No C++ exception ever
 *   leaves the library.
 * - Null pointers where an object is required give KVJIT_ERROR_INVALID_ARGUMENT, never a crash; the
 *   destroy/release functions accept NULL.
 * - Argument structs start with struct_size = sizeof(the struct as the caller compiled it). Fields added in
 *   later versions go at the end, so a caller built against an older header keeps working (the new fields
 *   take their defaults), and a newer caller works with an older library as long as it leaves the fields the
 *   library does not know at zero.
 * - Enums are stored as int32_t in structs so that their size does not depend on the compiler.
 * - Compiling (kvjit_compile_ptx, kvjit_engine_prefetch) needs no GPU and no driver; everything that loads
 *   or launches does, and without one returns KVJIT_ERROR_DRIVER ("no CUDA driver found: ...").
 */
#ifndef KVJIT_CAPI_KVJIT_H
#define KVJIT_CAPI_KVJIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of a declaration below; kvjit_abi_version() returns the library's. */
#define KVJIT_ABI_VERSION 1

/* Longest canonical spec text, the terminating NUL included (kvjit_spec_to_string). */
#define KVJIT_SPEC_TEXT_MAX 256

typedef enum kvjit_status {
  KVJIT_OK = 0,
  KVJIT_ERROR_INVALID_SPEC = 1,      /* a spec field out of range; the message names field, value, rule */
  KVJIT_ERROR_INVALID_ARGUMENT = 2,  /* a null or inconsistent argument, launch arguments that don't fit */
  KVJIT_ERROR_COMPILE = 3,           /* NVRTC failed; the message carries the log */
  KVJIT_ERROR_DRIVER = 4,            /* no driver or device, or a driver call failed */
  KVJIT_ERROR_IO = 5,                /* the module cache could not read or write */
  KVJIT_ERROR_NOT_FOUND = 6,         /* e.g. an unknown model name */
  KVJIT_ERROR_BUFFER_TOO_SMALL = 7,  /* a caller buffer is too small; the needed size is reported */
  KVJIT_ERROR_INTERNAL = 8
} kvjit_status;

typedef enum kvjit_kind { KVJIT_KIND_DECODE = 0, KVJIT_KIND_APPEND = 1 } kvjit_kind;

typedef enum kvjit_kv_dtype {
  KVJIT_KV_F16 = 0,
  KVJIT_KV_BF16 = 1,
  KVJIT_KV_INT8 = 2, /* int8, one scale (f16, or f32 with scale_dtype) per (page, slot, kv_head) row */
  KVJIT_KV_Q8 = 3,   /* int8, one scale per 32 elements of a row */
  KVJIT_KV_E4M3 = 4, /* FP8 with per-tensor k_scale / v_scale */
  KVJIT_KV_E5M2 = 5
} kvjit_kv_dtype;

/* Element type of the int8 / q8 scale pools (spec text scale=f16|f32). */
typedef enum kvjit_scale_dtype { KVJIT_SCALE_F16 = 0, KVJIT_SCALE_F32 = 1 } kvjit_scale_dtype;

typedef enum kvjit_q_dtype { KVJIT_Q_F16 = 0, KVJIT_Q_BF16 = 1 } kvjit_q_dtype;

/* nhd = [pages, page_size, kv_heads, head_dim]; hnd = [pages, kv_heads, page_size, head_dim]. */
typedef enum kvjit_layout { KVJIT_LAYOUT_NHD = 0, KVJIT_LAYOUT_HND = 1 } kvjit_layout;

/* table: block table + seq lens (vLLM); csr: indptr / indices / last_page_len (FlashInfer);
 * contig: one [kv_heads, seq_capacity, head_dim] buffer per sequence (device array of pointers). */
typedef enum kvjit_paging { KVJIT_PAGING_TABLE = 0, KVJIT_PAGING_CSR = 1, KVJIT_PAGING_CONTIG = 2 } kvjit_paging;

/* A kernel spec: the fields of the canonical text (README "Specs"). A value type: copy it freely. */
typedef struct kvjit_spec {
  int32_t kind;          /* kvjit_kind */
  int32_t head_dim;      /* multiple of 16 in [32, 512] (q8: of 32) */
  int32_t page_size;     /* power of two in [1, 256] */
  int32_t gqa;           /* query heads per KV head, [1, 64] */
  int32_t kv;            /* kvjit_kv_dtype */
  int32_t q;             /* kvjit_q_dtype: also the dtype of O and of append's K/V input */
  int32_t layout;        /* kvjit_layout */
  int32_t paging;        /* kvjit_paging */
  int32_t arch_sm;       /* 0 = auto (the current device's arch); 90 = sm_90 */
  int32_t arch_specific; /* 1 for the 'a' variants (sm_90a) */
  int32_t softcap;       /* 1: scores are soft-capped (decode args give the cap) */
  int32_t scale_dtype;   /* kvjit_scale_dtype: int8 / q8 scale pool elements (0 = f16) */
  int32_t reserved[4];   /* zero: options added later, where zero means the default */
} kvjit_spec;

typedef struct kvjit_engine kvjit_engine; /* compiles at most once per spec; thread-safe */
typedef struct kvjit_kernel kvjit_kernel; /* a kernel loaded in one CUDA context; launches take no lock */

/* Launch arguments of a decode kernel (runtime/launch_args.h DecodeArgs). Pointers are device pointers;
 * shapes follow docs/FORMATS.md. */
typedef struct kvjit_decode_args {
  size_t struct_size;             /* sizeof(kvjit_decode_args); kvjit_decode_args_init sets it */
  const void* q;                  /* [batch, num_kv_heads * gqa, head_dim], spec.q dtype */
  void* o;                        /* same shape and dtype as q */
  const void* k_cache;            /* paging=table/csr: the paged caches in spec.layout and spec.kv */
  const void* v_cache;
  const void* k_scales;           /* kv=int8 / q8: the scale pools (spec.scale_dtype), row order of the cache */
  const void* v_scales;
  const int32_t* block_table;     /* paging=table: [batch, max_blocks_per_seq] */
  const int32_t* seq_lens;        /* paging=table and contig: [batch] */
  const int32_t* indptr;          /* paging=csr: [batch + 1] */
  const int32_t* indices;         /* paging=csr: physical page ids */
  const int32_t* last_page_len;   /* paging=csr: [batch] */
  const void* const* seq_k;       /* paging=contig: [batch] device pointers to [kv_heads, capacity, hd] */
  const void* const* seq_v;
  const void* const* seq_k_scales; /* paging=contig, kv=int8 / q8: [batch] scale pool pointers */
  const void* const* seq_v_scales;
  float* lse;                     /* optional [batch, num_q_heads] natural-log sum-exp */
  void* workspace;                /* optional split-KV workspace (kvjit_kernel_decode_workspace_bytes), zeroed once */
  size_t workspace_bytes;
  const kvjit_spec* expected_spec; /* optional: refuse a launch through a kernel of another spec */
  int32_t batch;
  int32_t num_kv_heads;
  int32_t max_blocks_per_seq;     /* paging=table: row stride of block_table */
  int32_t seq_capacity;           /* paging=contig: tokens each sequence's buffer holds */
  float sm_scale;                 /* usually 1 / sqrt(head_dim); must be > 0 */
  float k_scale;                  /* per-tensor scales (e4m3, e5m2); 1 otherwise */
  float v_scale;
  float softcap;                  /* softcap=1 specs: score = softcap * tanh(score / softcap) */
  int32_t window;                 /* > 0: attend to the last `window` tokens only */
  int32_t max_seq_len;            /* with a workspace: the longest sequence of this launch (0: no split) */
  int32_t num_splits;             /* 0: chosen from the shapes; n: exactly n partitions (needs a workspace) */
  int32_t pdl;                    /* nonzero: programmatic dependent launch where the device (sm_90+) and driver
                                   * have it; results are the same (runtime/launch_args.h DecodeArgs::pdl) */
  /* Fields below were appended after the first release: a caller built against an older header passes a
   * smaller struct_size and gets their defaults. */
  int32_t cta_warps;              /* 0: the launch chooses (kvjit_kernel_decode_grid); n: exactly n warps a CTA,
                                   * one of the sizes the kernel runs, else KVJIT_ERROR_INVALID_ARGUMENT */
  int32_t reserved_;              /* zero */
} kvjit_decode_args;

/* Launch arguments of an append kernel (AppendArgs): quantizes and stores new tokens' K and V. */
typedef struct kvjit_append_args {
  size_t struct_size;             /* sizeof(kvjit_append_args); kvjit_append_args_init sets it */
  const void* k;                  /* [num_tokens, num_kv_heads, head_dim], spec.q dtype */
  const void* v;
  void* k_cache;                  /* paging=table/csr: the paged caches */
  void* v_cache;
  void* k_scales;                 /* kv=int8 / q8: the scale pools */
  void* v_scales;
  const int64_t* slot_mapping;    /* [num_tokens]: page * page_size + slot (contig: seq * capacity + pos);
                                     negative = skip the token */
  void* const* seq_k;             /* paging=contig: per-sequence buffers, as in kvjit_decode_args */
  void* const* seq_v;
  void* const* seq_k_scales;
  void* const* seq_v_scales;
  const kvjit_spec* expected_spec;
  int32_t num_tokens;
  int32_t num_kv_heads;
  int32_t seq_capacity;
  float k_scale;                  /* per-tensor scales (e4m3, e5m2); 1 otherwise */
  float v_scale;
  int32_t reserved_;              /* zero */
} kvjit_append_args;

/* ---- Version ---- */

/* The library's version, e.g. "0.1.0". */
const char* kvjit_version(void);
/* The library's KVJIT_ABI_VERSION: compare with the header's to detect a mismatched libkvjit.so. */
int kvjit_abi_version(void);

/* ---- Errors ---- */

/* This thread's message for the last failed call, "" after a successful one. Valid until the next kvjit call
 * on this thread. */
const char* kvjit_last_error(void);
/* "KVJIT_ERROR_DRIVER" for KVJIT_ERROR_DRIVER; "unknown" for values not listed above. */
const char* kvjit_status_name(int status);

/* ---- Specs (no GPU needed) ---- */

/* The default spec: decode, hd=128, page=16, gqa=1, kv=f16, q=f16, nhd, table, arch=auto. */
void kvjit_spec_init(kvjit_spec* spec);
/* Parses spec text (fields in any order, long names, defaults); `out` is written only on success. */
kvjit_status kvjit_spec_parse(const char* text, kvjit_spec* out);
/* Checks ranges and cross-field rules of a spec built in code. */
kvjit_status kvjit_spec_validate(const kvjit_spec* spec);
/* Writes the canonical text and its NUL; KVJIT_ERROR_BUFFER_TOO_SMALL when `len` cannot hold it (at most
 * KVJIT_SPEC_TEXT_MAX bytes are ever needed). */
kvjit_status kvjit_spec_to_string(const kvjit_spec* spec, char* buf, size_t len);

/* ---- Compiling (no GPU needed) ---- */

/* Compiles `spec` (its arch must be concrete, not auto) to PTX and copies it with a NUL into `buf`. `needed`
 * (may be NULL) receives the size required, NUL included. With buf == NULL or a too small `len`, returns
 * KVJIT_ERROR_BUFFER_TOO_SMALL and only sets `needed`; the second call with a buffer that fits does not
 * compile again (the last result is kept per thread). */
kvjit_status kvjit_compile_ptx(const kvjit_spec* spec, char* buf, size_t len, size_t* needed);

/* The append and decode specs a built-in model preset needs ("llama-3-8b"; `kvjit models` lists them), the
 * other fields taken from `base` (NULL: the default spec). Writes up to `capacity` specs to `out` and the
 * number there are to `count`; KVJIT_ERROR_BUFFER_TOO_SMALL when capacity is smaller. */
kvjit_status kvjit_model_specs(const char* model, const kvjit_spec* base, kvjit_spec* out, size_t capacity,
                               size_t* count);

/* ---- Engine ---- */

/* An engine over the module cache (memory + disk; KVJIT_CACHE_DIR, KVJIT_DISABLE_CACHE). Creating one
 * needs no driver. */
kvjit_status kvjit_engine_create(kvjit_engine** out);
/* Waits for prefetches, then frees the engine. Kernels obtained from it stay valid until released. */
void kvjit_engine_destroy(kvjit_engine* engine);
/* A kernel for `spec` in the calling thread's current CUDA context (device 0's primary context is made
 * current when none is); arch=auto resolves to that device. Compiles at most once. Release the handle with
 * kvjit_kernel_release. */
kvjit_status kvjit_engine_get(kvjit_engine* engine, const kvjit_spec* spec, kvjit_kernel** out);
/* Compiles `count` specs in the background (arch=auto specs are resolved against the current device when
 * there is one, else skipped). Errors surface again on kvjit_engine_get. */
kvjit_status kvjit_engine_prefetch(kvjit_engine* engine, const kvjit_spec* specs, size_t count);
/* Waits for the prefetches started so far. */
kvjit_status kvjit_engine_wait_prefetch(kvjit_engine* engine);

/* ---- Kernels ---- */

void kvjit_kernel_release(kvjit_kernel* kernel);
/* The kernel's spec, arch resolved. */
kvjit_status kvjit_kernel_spec(const kvjit_kernel* kernel, kvjit_spec* out);
/* Bytes of split-KV workspace for up to `batch` sequences of `num_kv_heads` heads. */
kvjit_status kvjit_kernel_decode_workspace_bytes(const kvjit_kernel* kernel, int32_t batch, int32_t num_kv_heads,
                                                 size_t* bytes);

/* The CTA size (warps) and KV partitions a decode launch of `batch` sequences of `num_kv_heads` heads, the
 * longest `max_seq_len` tokens, takes with cta_warps = num_splits = 0 and a workspace of
 * kvjit_kernel_decode_workspace_bytes (max_seq_len = 0: no split). Either output may be NULL. */
kvjit_status kvjit_kernel_decode_grid(const kvjit_kernel* kernel, int32_t batch, int32_t num_kv_heads,
                                      int32_t max_seq_len, int32_t* cta_warps, int32_t* splits);

/* Sets struct_size and every default (k_scale = v_scale = 1, the rest zero). */
void kvjit_decode_args_init(kvjit_decode_args* args);
void kvjit_append_args_init(kvjit_append_args* args);

/* Launches on `stream` (a CUstream / cudaStream_t; NULL = the legacy default stream). No lock, no allocation:
 * capturable in a CUDA graph. Argument errors are reported before anything is launched. */
kvjit_status kvjit_kernel_decode(const kvjit_kernel* kernel, void* stream, const kvjit_decode_args* args);
kvjit_status kvjit_kernel_append(const kvjit_kernel* kernel, void* stream, const kvjit_append_args* args);

#ifdef __cplusplus
}
#endif

#endif /* KVJIT_CAPI_KVJIT_H */
