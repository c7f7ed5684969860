"""Without a driver: Engine.get and launches fail with kvjit.DriverError. Runs in a subprocess with the
driver path pointed at nothing, so it holds on GPU machines too (and never launches the fake pointers)."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = f"""
import sys
sys.path.insert(0, {HERE!r})
import kvjit
from fakes import valid_append_args, valid_decode_args

try:
    kvjit.Engine().get("decode:gqa=4,kv=int8")
except kvjit.DriverError as e:
    assert "no CUDA driver found" in str(e), e
    print("get: DriverError")

spec, args = valid_decode_args()
try:
    kvjit.decode(spec, **args)  # every argument passes the checks; then the driver is missing
except kvjit.DriverError:
    print("decode: DriverError")

spec, args = valid_append_args()
try:
    kvjit.append(spec, **args)
except kvjit.DriverError:
    print("append: DriverError")
"""


def test_engine_and_launches_report_the_missing_driver():
    env = dict(os.environ, KVJIT_LIBCUDA="/nonexistent/libcuda.so.1", KVJIT_DISABLE_CACHE="1",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ("get: DriverError", "decode: DriverError", "append: DriverError"):
        assert line in r.stdout, r.stdout + r.stderr
