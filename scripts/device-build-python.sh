#!/usr/bin/env bash
# On a GPU machine (CUDA toolkit, Python with torch, nanobind, scikit-build-core, cmake, ninja; no network, no
# Debian -dev packages): builds and installs the Python package from this checkout, then runs the Python
# tests (the GPU ones against torch) and the toy engine. Needs .devdeps/ from scripts/device-deps.sh.
#
#   bash scripts/device-build-python.sh            # logs under $OUT (or ./gpu-logs)
#   SKIP_TOY=1 PYTEST_ARGS="-k int8" bash scripts/device-build-python.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
debs="$root/.devdeps"
prefix="${KVJIT_DEVDEPS_PREFIX:-/tmp/kvjit-devdeps}"
logs="${OUT:-$root/gpu-logs}"
python="${PYTHON:-python3}"
export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
mkdir -p "$logs"

if ! ls "$debs"/*.deb >/dev/null 2>&1; then
  echo "device-build-python: no .deb files in $debs: run scripts/device-deps.sh on a Debian machine and carry .devdeps" >&2
  exit 1
fi

# 1. Unpack the packages into a private prefix (never into /).
extract() {  # extract DEB DIR: dpkg-deb when there is one, else ar + tar through Python's stdlib
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$1" "$2"
  else
    "$python" - "$1" "$2" <<'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", deb + ": not an ar archive"
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        tarfile.open(fileobj=io.BytesIO(body)).extractall(dest, **trusted)
    pos += 60 + size + (size % 2)
PY
  fi
}
rm -rf "$prefix"
mkdir -p "$prefix"
for deb in "$debs"/*.deb; do extract "$deb" "$prefix"; done
usr="$prefix/usr"
libdir="$usr/lib/x86_64-linux-gnu"
# pkg-config files name /usr; point them at the prefix.
for pc in "$libdir"/pkgconfig/*.pc "$usr"/share/pkgconfig/*.pc; do
  [ -f "$pc" ] && sed -i "s|^prefix=/usr\$|prefix=$usr|" "$pc"
done
export PKG_CONFIG_PATH="$libdir/pkgconfig:$usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$libdir:$CUDA_HOME/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
pkg_config="$(command -v pkg-config || true)"
[ -n "$pkg_config" ] || pkg_config="$usr/bin/pkgconf"
export CMAKE_PREFIX_PATH="$usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$usr -DPKG_CONFIG_EXECUTABLE=$pkg_config -DCUDAToolkit_ROOT=$CUDA_HOME ${CMAKE_ARGS:-}"
echo "device-build-python: deps in $prefix, pkg-config $pkg_config, CUDA $CUDA_HOME, $("$python" --version)"

# 2. pip install . (no build isolation: nothing can be downloaded there; nanobind and scikit-build-core are).
cd "$root"
if ! "$python" -m pip install --no-build-isolation --no-deps -v . >"$logs/pip-install.log" 2>&1; then
  tail -n 60 "$logs/pip-install.log"
  echo "device-build-python: pip install failed (full log: $logs/pip-install.log)" >&2
  exit 1
fi
tail -n 2 "$logs/pip-install.log"

# 3. The Python tests, from outside the checkout so that the installed package is the one imported.
status=0
(cd /tmp && KVJIT_CACHE_DIR="$(mktemp -d)" "$python" -m pytest -p no:cacheprovider -q -rs ${PYTEST_ARGS:-} \
   "$root/tests/python" 2>&1 | tee "$logs/pytest.log") || status=1

# 4. The toy engine (a CMake build of the example alone, against the same prefix).
if [ -z "${SKIP_TOY:-}" ]; then
  build="$root/build-device"
  { cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVJIT_BUILD_TESTS=OFF -DKVJIT_BUILD_PYTHON=OFF \
      $CMAKE_ARGS && cmake --build "$build" --target kvjit_toy_engine && "$build/examples/toy_engine/kvjit_toy_engine"; } \
    >"$logs/toy_engine.log" 2>&1 || status=1
  tail -n 6 "$logs/toy_engine.log"
fi
exit $status
