#!/usr/bin/env python3
"""Where a decode launch's time goes, CTA by CTA (docs/PERFORMANCE.md §3f).

  cta_timeline.py instrument OUT_DIR   copy templates/kvjit to OUT_DIR/kvjit with timestamps added
  cta_timeline.py summarize LOG...     per-launch summary of `kvjit bench` output run on those templates

The instrumented tensor-core body reads %globaltimer at the CTA's start, after warp 0's first tile, at warp
0's loop end and at the CTA merge, and prints one `TRACE` line per CTA at its end, for the 31st launch of
the module only (so warm-up and timing launches around it are untouched). Run one shape per process
(the launch counter is a module global):

  KVJIT_TEMPLATE_DIR=OUT_DIR KVJIT_CACHE_DIR=$(mktemp -d) kvjit bench --spec SPEC --batch 1 --context 32768 \
      --runs 3 --no-baseline > log.txt

The CTA end (decode_finish.cuh) is marked too: thread 0 stamps its entry, the first element of the warps'
merge, the partials written, the barrier after them, the counting atomic's return, the barrier after it and
(in the merging CTA) the merge's end; `summarize` prints the medians of those steps (`MARK` lines).

Printing costs the launch a few per cent, and in a launch of several waves later CTAs wait on the printf
buffer: read single-wave shapes only.
"""
import collections
import pathlib
import re
import shutil
import statistics
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TRACED_LAUNCH = 30

PRELUDE = """
extern "C" __device__ int vprintf(const char*, const char*);
namespace kvjit {
__device__ unsigned kvjit_trace_ctas;
__device__ __forceinline__ unsigned long long trace_now() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
struct TraceRecord { unsigned sm, x, y, z; unsigned long long start, first_tile, loop_end, merged, end; };
}  // namespace kvjit
"""

FINISH_PRELUDE = """
__device__ unsigned long long kvjit_marks[1 << 16][7];
__device__ __forceinline__ unsigned long long mark_now() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
__device__ __forceinline__ unsigned mark_cta() { return blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z); }
__device__ __forceinline__ void mark(int i) {
  if (threadIdx.x == 0) kvjit_marks[mark_cta() & 0xffff][i] = mark_now();
}
"""

# (anchor in decode_finish.cuh, text inserted after it, or before it where the anchor starts with "^").
FINISH_EDITS = [
    ("^  // Split: write this partition's normalized partial output", "  mark(0);\n"),
    ("^    const i64 part = (static_cast<i64>(b) * num_q_heads + q_head0 + h) * p.num_splits + split;\n",
     "    if (idx == 0) mark(1);\n"),
    ("^  // Count this CTA in once every thread's partials are written", "  mark(2);\n"),
    ("  if (threadIdx.x == 0) s.last = atomic_add_acq_rel_gpu(counter, 1u) == static_cast<u32>(p.num_splits - 1);\n",
     "  mark(4);\n"),
    ("  merge_splits<QElem, kEarlyMerge>(p, s, warps, ws, num_q_heads, q_head0, b, out_scale);\n", "  mark(6);\n"),
]
FINISH_BARRIER = ("  // Count this CTA in once every thread's partials are written; the last of the partitions merges.\n"
                  "  __syncthreads();\n")

# (anchor in decode_mma.cuh, text inserted after it, or before it where the anchor starts with "^");
# each anchor must occur exactly once.
EDITS = [
    ("  DecodeSmem<C::kWarps, H, HD>& smem = DecodeSmemOf<C::kWarps, H, HD, C::kWarpsFromLaunch>::get();\n",
     "  unsigned long long trace_start = trace_now(), trace_first = 0, trace_loop = 0, trace_merged = 0;\n"),
    ("      mma_tile_math<C>(p, cur, qa, tile, range.end, t, st);\n      cur = next;\n",
     "      if (trace_first == 0) trace_first = trace_now();\n"),
    ("      mma_load_tile<C>(seq, tile, range.end, g, t, cur);\n      mma_tile_math<C>(p, cur, qa, tile, range.end, t, st);\n",
     "      if (trace_first == 0) trace_first = trace_now();\n"),
    ("^  // Hand the warp's state to the CTA merge", "  trace_loop = trace_now();\n"),
    ("^  const float out_scale = (Fmt::kTensorScaled", "  trace_merged = trace_now();\n"),
    ("FINISH_DECODE_CALL", f"""\
  if (threadIdx.x == 0) {{
    unsigned n;
    asm volatile("atom.global.add.u32 %0, [%1], 1;" : "=r"(n) : "l"(&kvjit_trace_ctas) : "memory");
    if (n / (gridDim.x * gridDim.y * gridDim.z) == {TRACED_LAUNCH}) {{
      unsigned sm;
      asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
      const TraceRecord r{{sm, blockIdx.x, blockIdx.y, blockIdx.z, trace_start, trace_first, trace_loop, trace_merged,
                          trace_now()}};
      vprintf("TRACE %u %u %u %u %llu %llu %llu %llu %llu\\n", reinterpret_cast<const char*>(&r));
      const unsigned long long* mk = kvjit_marks[mark_cta() & 0xffff];
      const unsigned long long m[9] = {{blockIdx.z, trace_merged, mk[0], mk[1], mk[2], mk[3], mk[4], mk[5], mk[6]}};
      vprintf("MARK %llu %llu %llu %llu %llu %llu %llu %llu %llu\\n", reinterpret_cast<const char*>(m));
    }}
  }}
"""),
]


def instrument(out_dir):
    out = pathlib.Path(out_dir) / "kvjit"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(ROOT / "templates" / "kvjit", out)
    path = out / "decode_mma.cuh"
    text = path.read_text()
    text = text.replace("namespace kvjit {\n", PRELUDE + "namespace kvjit {\n", 1)
    # The body's last statement, whatever template arguments it passes.
    finish_call = re.search(r"^  finish_decode<.*\n", text, re.M)
    if finish_call is None:
        sys.exit("cta_timeline: no finish_decode call in decode_mma.cuh")
    for anchor, added in EDITS:
        before = anchor.startswith("^")
        anchor = finish_call.group(0) if anchor == "FINISH_DECODE_CALL" else anchor.lstrip("^")
        if text.count(anchor) != 1:
            sys.exit(f"cta_timeline: the anchor {anchor.strip()[:60]!r} is not in decode_mma.cuh exactly once")
        text = text.replace(anchor, added + anchor if before else anchor + added)
    path.write_text(text)
    instrument_finish(out / "decode_finish.cuh")
    print(f"instrumented templates in {out}")


def instrument_finish(path):
    text = path.read_text().replace("namespace kvjit {\n", "namespace kvjit {\n" + FINISH_PRELUDE, 1)
    for anchor, added in FINISH_EDITS:
        before = anchor.startswith("^")
        anchor = anchor.lstrip("^")
        if text.count(anchor) != 1:
            sys.exit(f"cta_timeline: the anchor {anchor.strip()[:60]!r} is not in decode_finish.cuh exactly once")
        text = text.replace(anchor, added + anchor if before else anchor + added)
    # The barrier after the partials, and the one after the count: marks 3 and 5 (the merge's end is 6; a CTA
    # that does not merge leaves 6 at 0).
    text = text.replace(FINISH_BARRIER, FINISH_BARRIER + "  mark(3);\n", 1)
    count = "  mark(4);\n  __syncthreads();\n"
    if text.count(count) != 1:
        sys.exit("cta_timeline: no barrier after the counting atomic in decode_finish.cuh")
    text = text.replace(count, count + "  mark(5);\n  if (threadIdx.x == 0) kvjit_marks[mark_cta() & 0xffff][6] = 0;\n")
    path.write_text(text)


def spread(values):
    return f"{min(values):.1f}/{statistics.median(values):.1f}/{max(values):.1f}"


def summarize(paths):
    for name in paths:
        rows = [[int(v) for v in line.split()[1:]] for line in open(name) if line.startswith("TRACE")]
        if not rows:
            print(f"{name}: no TRACE lines")
            continue
        t0 = min(r[4] for r in rows)
        span = (max(r[8] for r in rows) - t0) / 1e3
        us = lambda a, b: [(r[b] - r[a]) / 1e3 for r in rows if r[a] and r[b]]
        print(f"{name}: {len(rows)} CTAs, launch span {span:.1f} us (min/median/max below, us)")
        print(f"  CTA time {spread(us(4, 8))}; start to first tile done {spread(us(4, 5))}; "
              f"start to warp 0's loop end {spread(us(4, 6))}; CTA merge to end {spread(us(7, 8))}")
        ends = sorted((r[8] - t0) / 1e3 for r in rows)
        print("  CTA ends at percentiles 0/25/50/75/100:",
              [round(ends[int(q * (len(ends) - 1))], 1) for q in (0, 0.25, 0.5, 0.75, 1)])
        bins = 20
        active = [sum(1 for r in rows if (r[4] - t0) / 1e3 <= (i + 0.5) * span / bins < (r[8] - t0) / 1e3)
                  for i in range(bins)]
        print(f"  CTAs running in each 1/{bins} of the span:", active)
        per_sm = collections.Counter(r[0] for r in rows)
        print(f"  CTAs per SM {min(per_sm.values())}..{max(per_sm.values())} over {len(per_sm)} SMs")
        marks = [[int(v) for v in line.split()[1:]] for line in open(name) if line.startswith("MARK")]
        if marks and all(m[2] for m in marks):  # split launches only: an unsplit CTA returns before mark 0
            step = lambda a, b: spread([(m[b] - m[a]) / 1e3 for m in marks if m[a] and m[b]])
            print(f"  CTA end: merge to entry {step(1, 2)}; first element of the warps' merge {step(2, 3)}; "
                  f"partials written {step(3, 4)}; barrier {step(4, 5)}; count {step(5, 6)}; barrier {step(6, 7)}; "
                  f"the merging CTA's merge {step(7, 8)}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "instrument":
        instrument(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "summarize":
        summarize(sys.argv[2:])
    else:
        sys.exit(__doc__)
