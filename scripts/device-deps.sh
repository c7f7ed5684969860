#!/usr/bin/env bash
# Here (Debian 12, with apt): downloads the Debian packages kvjit's build needs but a GPU machine's image may
# lack (fmt, xxhash, nlohmann-json, CLI11, GoogleTest, Google Benchmark, pkgconf) into .devdeps/ (ignored by
# git). Carry .devdeps to the GPU machine and run scripts/device-build-python.sh there; it unpacks them into
# a private prefix, never into /.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.devdeps"
packages=(
  libfmt-dev libfmt9 libxxhash-dev libxxhash0 nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian
  pkgconf pkgconf-bin libpkgconf3
)
mkdir -p "$out"
cd "$out"
rm -f ./*.deb
if ! apt-get download "${packages[@]}" >/dev/null 2>&1; then
  # The package lists may be missing or stale on a fresh machine.
  apt-get update -qq
  apt-get download "${packages[@]}" >/dev/null
fi
for p in "${packages[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || { echo "device-deps: ${p} was not downloaded" >&2; exit 1; }
done
echo "device-deps: $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in $out"
