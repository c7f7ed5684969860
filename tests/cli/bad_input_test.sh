#!/usr/bin/env bash
# The bad-input sweep of the kvjit CLI: one row per bad input with its exit code (2 usage, 1 failure) and a
# piece of its message. Nothing may crash (no exit code above 2), nothing may be written to the cache (a
# temporary KVJIT_CACHE_DIR that must stay absent) or to an output directory of a rejected dump.
# Usage: bad_input_test.sh <path to kvjit>
set -euo pipefail

kvjit="${1:?usage: bad_input_test.sh <path to kvjit>}"
unset KVJIT_TEMPLATE_DIR KVJIT_DISABLE_CACHE KVJIT_CACHE_MAX_BYTES
tmp="$(mktemp -d "${TMPDIR:-/tmp}/kvjit_bad_input_test.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cache="$tmp/cache"
export KVJIT_CACHE_DIR="$cache"
export KVJIT_LIBCUDA=/nonexistent/libcuda.so.1  # no driver, also on GPU machines

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

a_file="$tmp/a_file"
: >"$a_file"
non_utf8=$'\xff\xfe'
long_value="$(head -c 100000 /dev/zero | tr '\0' 7)"
arch_rule='must be one of auto, sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_103, sm_103a, sm_120, sm_120a'

# expect NAME RC MESSAGE -- ARGS...: runs kvjit ARGS, checks the exit code and that stderr holds MESSAGE.
expect() {
  local name=$1 want_rc=$2 want_msg=$3
  shift 4
  local rc=0
  "$kvjit" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  if [[ $rc -ne $want_rc ]]; then
    fail "$name: exit code $rc, expected $want_rc"
    sed 's/^/  stderr: /' "$tmp/stderr" | head -5 >&2
  fi
  if ! grep -qF -- "$want_msg" "$tmp/stderr"; then
    fail "$name: stderr lacks '$want_msg'"
    sed 's/^/  stderr: /' "$tmp/stderr" | head -5 >&2
  fi
  if [[ -e "$cache" ]]; then
    fail "$name: wrote to the cache: $(find "$cache" | head -5 | tr '\n' ' ')"
    rm -rf "$cache"
  fi
  if [[ -e "$tmp/out" ]]; then
    fail "$name: a rejected dump wrote $tmp/out"
    rm -rf "$tmp/out"
  fi
}

# Usage errors: exit 2.
expect "no subcommand" 2 "A subcommand is required" --
expect "unknown subcommand" 2 "A subcommand is required" -- frobnicate
expect "unknown option" 2 "The following argument was not expected: --frob" -- dump --frob
expect "dump nothing" 2 "kvjit dump: nothing to dump: give SPEC... or --model NAME" -- dump -o "$tmp/out"
expect "dump -o without a value" 2 "--out: 1 required TEXT missing" -- dump -o
expect "dump -j not a number" 2 "--jobs" -- dump decode -j many -o "$tmp/out"
expect "dump invalid spec" 2 "kvjit dump: head_dim=100: must be a multiple of 16 in [32, 512]" -- \
  dump 'decode:hd=100,arch=sm_90' -o "$tmp/out"
expect "dump unknown enum" 2 "kvjit dump: layout=nchw: must be one of nhd, hnd" -- dump 'decode:layout=nchw' -o "$tmp/out"
expect "dump unknown kind" 2 "kvjit dump: kind=prefill: must be one of decode, append" -- dump 'prefill:hd=128' -o "$tmp/out"
expect "dump negative number" 2 "kvjit dump: gqa=-4: must be a decimal integer; an integer in [1, 64]" -- \
  dump 'decode:gqa=-4' -o "$tmp/out"
expect "dump over-long value" 2 "must be a decimal integer; a multiple of 16 in [32, 512]" -- \
  dump "decode:hd=$long_value" -o "$tmp/out"
expect "dump non-UTF-8 value" 2 "kvjit dump: kv=$non_utf8: must be one of f16, bf16, int8, q8, e4m3, e5m2" -- \
  dump "decode:kv=$non_utf8" -o "$tmp/out"
expect "dump empty spec" 2 "kvjit dump: empty spec" -- dump '' -o "$tmp/out"
expect "dump one bad spec of two" 2 "kvjit dump: kv=fp8: must be one of" -- \
  dump 'decode:arch=sm_90' 'decode:kv=fp8' -o "$tmp/out"
expect "dump unknown model" 2 "kvjit dump: model=no-such-model: unknown model (known: " -- \
  dump --model no-such-model -o "$tmp/out"
expect "dump non-UTF-8 model" 2 "kvjit dump: model=$non_utf8: unknown model" -- dump --model "$non_utf8" -o "$tmp/out"
expect "dump model with a bad kv" 2 "kvjit dump: kv=int4: must be one of" -- \
  dump --model llama-3-8b --kv int4 -o "$tmp/out"
expect "dump model with an old arch" 2 "kvjit dump: arch=sm_75: $arch_rule" -- \
  dump --model llama-3-8b --arch sm_75 -o "$tmp/out"
expect "dump arch auto" 2 "arch=auto: compiling needs a concrete arch (e.g. sm_90)" -- \
  dump decode --arch auto -o "$tmp/out"
expect "cache without a subcommand" 2 "A subcommand is required" -- cache
expect "cache prune zero" 2 "kvjit cache prune: --max-bytes '0' is not a size" -- cache prune --max-bytes 0
expect "cache prune negative" 2 "kvjit cache prune: --max-bytes '-1' is not a size" -- cache prune --max-bytes -1
expect "cache prune overflow" 2 "kvjit cache prune: --max-bytes '99999999999999999999G' is not a size" -- \
  cache prune --max-bytes 99999999999999999999G
expect "cache prune non-UTF-8" 2 "is not a size" -- cache prune --max-bytes "$non_utf8"
expect "cache explain invalid spec" 2 "kvjit cache explain: head_dim=100: must be a multiple of 16" -- \
  cache explain 'decode:hd=100'
expect "cache explain arch auto" 2 "arch=auto must be resolved to the device's arch first" -- cache explain decode
expect "cache explain without a spec" 2 "spec is required" -- cache explain
expect "models with an argument" 2 "The following argument was not expected" -- models --json

# Failures: exit 1.
expect "dump into a file" 1 "Not a directory" -- dump 'decode:arch=sm_90' -o "$a_file"
expect "dump into a non-UTF-8 path under a file" 1 "Not a directory" -- \
  dump 'decode:arch=sm_90' -o "$a_file/$non_utf8"
expect "bench without a driver" 1 "kvjit bench: no CUDA driver found: " -- bench
expect "bench splits past the most" 2 "--splits: Value 129 not in range 0 to 128" -- bench --splits 129
expect "bench negative splits" 2 "--splits: Value -1 not in range 0 to 128" -- bench --splits -1
expect "bench pdl past 1" 2 "--pdl: Value 2 not in range 0 to 1" -- bench --pdl 2
expect "bench zero launches a run" 2 "--back-to-back: Value 0 not in range 1 to 1000" -- bench --back-to-back 0
expect "bench zero runs" 2 "--runs: Value 0 not in range 1 to 100000" -- bench --runs 0
KVJIT_CACHE_DIR="$a_file" expect "cache dir is a file" 1 "kvjit cache: refusing cache directory $a_file: not a directory" -- \
  cache stats
KVJIT_CACHE_DIR="$a_file" expect "clear a cache dir that is a file" 1 "refusing cache directory" -- cache clear

# Missing or odd cache directories are an empty cache, not an error, and are not created by looking.
for dir in "$tmp/cache" "$tmp/$non_utf8/cache"; do
  rc=0
  KVJIT_CACHE_DIR="$dir" "$kvjit" cache stats >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  [[ $rc -eq 0 ]] || fail "cache stats of a missing directory: exit code $rc"
  grep -q "^entries *0$" "$tmp/stdout" || fail "cache stats of a missing directory: $(cat "$tmp/stdout")"
  [[ ! -e "$dir" ]] || fail "cache stats created $dir"
done
rc=0
KVJIT_CACHE_MAX_BYTES=lots "$kvjit" cache stats >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
[[ $rc -eq 0 ]] || fail "a bad KVJIT_CACHE_MAX_BYTES is a warning, not an error: exit code $rc"
grep -qF "KVJIT_CACHE_MAX_BYTES='lots' is not a size" "$tmp/stderr" || fail "no warning for KVJIT_CACHE_MAX_BYTES=lots"

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "bad_input_test: ok"
