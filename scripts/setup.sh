#!/usr/bin/env bash
# Installs what kvjit's build needs from Debian and checks for the CUDA toolkit's NVRTC.
# Idempotent: packages already present are skipped, so a second run costs a few dpkg queries.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config python3 python3-pip
  libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cuda_home="${CUDA_HOME:-/usr/local/cuda}"
if [ ! -f "$cuda_home/include/nvrtc.h" ] || ! ls "$cuda_home"/lib64/libnvrtc.so* >/dev/null 2>&1; then
  cat >&2 <<MSG
setup: NVRTC not found under $cuda_home (looked for include/nvrtc.h and lib64/libnvrtc.so).
       Install the CUDA toolkit (12.x or 13.x) or point CUDA_HOME at it.
MSG
  exit 1
fi
echo "setup: ok (NVRTC from $cuda_home)"
