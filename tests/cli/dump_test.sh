#!/usr/bin/env bash
# kvjit dump end to end: files written, names, exit codes. Usage: dump_test.sh <path to kvjit>
set -euo pipefail

kvjit="${1:?usage: dump_test.sh <path to kvjit>}"
unset KVJIT_TEMPLATE_DIR
tmp="$(mktemp -d "${TMPDIR:-/tmp}/kvjit_dump_test.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# Runs kvjit with the given arguments, keeping stdout, stderr and the exit code; never aborts the script.
run() {
  set +e
  "$kvjit" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  rc=$?
  set -e
}

expect_rc() {
  local want=$1 what=$2
  if [[ $rc -ne $want ]]; then
    fail "$what: exit code $rc, expected $want"
    sed 's/^/  stdout: /' "$tmp/stdout" >&2
    sed 's/^/  stderr: /' "$tmp/stderr" >&2
  fi
}

# A valid spec: every dump file, the canonical entry name, the report.
spec='decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90'
stem=decode_hd_128_page_16_gqa_4_kv_f16_q_f16_layout_nhd_paging_table_arch_sm_90
out="$tmp/out"
run dump "$spec" -o "$out"
expect_rc 0 "dump of a valid spec"
for ext in cu ptx cubin log json; do
  [[ -s "$out/$stem.$ext" ]] || fail "dump did not write a non-empty $stem.$ext"
done
grep -q "\.entry kvjit_${stem}(" "$out/$stem.ptx" || fail "the PTX has no entry kvjit_$stem"
grep -q "extern \"C\"" "$out/$stem.cu" || fail "the .cu has no extern \"C\" entry"
[[ "$(head -c 4 "$out/$stem.cubin" | od -An -tx1 | tr -d ' \n')" == 7f454c46 ]] || fail "the cubin is not ELF"
grep -Eq '"registers": [1-9][0-9]*' "$out/$stem.json" || fail "the json has no positive register count"
grep -q "\"symbol\": \"kvjit_$stem\"" "$out/$stem.json" || fail "the json does not name the symbol"
[[ -s "$out/kvjit/decode.cuh" ]] || fail "dump did not write the templates next to the source"
grep -qF "decode:hd=128,page=16,gqa=4,kv=f16,q=f16,layout=nhd,paging=table,arch=sm_90 " "$tmp/stdout" ||
  fail "no table row with the canonical spec"

# An invalid spec: usage error, the exact reason, nothing compiled.
bad="$tmp/bad"
run dump 'decode:hd=100,page=16,gqa=4,kv=f16,q=f16,arch=sm_90' -o "$bad"
expect_rc 2 "dump of head_dim=100"
grep -qF 'head_dim=100: must be a multiple of 16 in [32, 512]' "$tmp/stderr" ||
  fail "head_dim=100 error not reported; stderr: $(cat "$tmp/stderr")"
if compgen -G "$bad/*.ptx" >/dev/null; then fail "an invalid spec wrote a .ptx"; fi

# Help.
run dump --help
expect_rc 0 "kvjit dump --help"
grep -q -- "--out" "$tmp/stdout" || fail "kvjit dump --help does not list --out"
run --help
expect_rc 0 "kvjit --help"
grep -q "dump" "$tmp/stdout" || fail "kvjit --help does not list dump"

# A model preset: its append and decode kernels, as a table.
model_out="$tmp/model"
run dump --model llama-3-8b --arch sm_90 -o "$model_out"
expect_rc 0 "dump --model llama-3-8b"
grep -Eq '^spec +compile_ms +regs +smem +spills' "$tmp/stdout" || fail "no table header for --model"
grep -Eq '^append:hd=128,page=16,gqa=4,.*arch=sm_90 ' "$tmp/stdout" || fail "no append row for llama-3-8b"
grep -Eq '^decode:hd=128,page=16,gqa=4,.*arch=sm_90 ' "$tmp/stdout" || fail "no decode row for llama-3-8b"
grep -q "wrote 2 kernel(s)" "$tmp/stdout" || fail "--model did not write 2 kernels"
[[ -s "$model_out/decode_hd_128_page_16_gqa_4_kv_f16_q_f16_layout_nhd_paging_table_arch_sm_90.ptx" ]] ||
  fail "--model did not write the decode PTX"

# Usage errors.
run dump --no-such-option "$spec"
expect_rc 2 "kvjit dump --no-such-option"
run --no-such-option
expect_rc 2 "kvjit --no-such-option"
run dump --model no-such-model -o "$tmp/nomodel"
expect_rc 2 "kvjit dump --model no-such-model"
grep -q "model=no-such-model: unknown model" "$tmp/stderr" || fail "unknown model not reported"

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all kvjit dump checks passed"
