#!/usr/bin/env bash
# Fetch NVIDIA's C++ perf_analyzer 2.40 (the reference we compare against) and
# print the path of a wrapper that runs it. Idempotent: a second run only checks
# the wrapper still starts and prints its path.
#
# Where it comes from: PyPI ships the binary inside the tritonclient 2.40.0
# manylinux wheel; it links libb64 (Debian: libb64-0d) and libcudart.so.12,
# which the nvidia-cuda-runtime-cu12 wheel provides. No GPU is needed to run it
# against an HTTP/gRPC server; cudart is only loaded, never used.
#
# Env: PYTHON (default python3) runs pip; PA_CACHE overrides bench/.cache.
# Stdout is the wrapper path and nothing else, so callers can do
#   PA=$(bench/get_perf_analyzer.sh)
set -euo pipefail

TRITONCLIENT_VERSION=2.40.0
# Pinned so a rerun months later benchmarks the same bits; any 12.x would do.
CUDART_VERSION=12.9.79

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${PA_CACHE:-$here/.cache}
dest=$cache/perf_analyzer-$TRITONCLIENT_VERSION
wrapper=$dest/perf_analyzer
python=${PYTHON:-python3}

log() { echo "get_perf_analyzer: $*" >&2; }

if [ "$(uname -sm)" != "Linux x86_64" ]; then
  log "the reference binary exists only for Linux x86_64 (this is $(uname -sm))"
  exit 1
fi

# libb64 is a system library, not in any wheel.
# (grep without -q reads all of ldconfig's output: no SIGPIPE under pipefail.)
if ! ldconfig -p 2>/dev/null | grep 'libb64\.so\.0d' >/dev/null; then
  if ! dpkg -s libb64-0d >/dev/null 2>&1; then
    log "installing libb64-0d with apt"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
    $sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libb64-0d >&2
  fi
fi

if [ ! -x "$dest/bin/perf_analyzer" ] || [ ! -e "$dest/lib/libcudart.so.12" ]; then
  mkdir -p "$cache/wheels" "$dest/bin" "$dest/lib"
  # Reuse wheels already in the cache rather than fetch them again.
  tc_whl=$(ls "$cache"/wheels/tritonclient-$TRITONCLIENT_VERSION-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$tc_whl" ]; then
    log "downloading tritonclient==$TRITONCLIENT_VERSION"
    "$python" -m pip download -q --no-deps --only-binary=:all: \
      -d "$cache/wheels" "tritonclient==$TRITONCLIENT_VERSION" >&2
    tc_whl=$(ls "$cache"/wheels/tritonclient-$TRITONCLIENT_VERSION-*.whl | head -n1)
  fi
  rt_whl=$(ls "$cache"/wheels/nvidia_cuda_runtime_cu12-$CUDART_VERSION-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$rt_whl" ]; then
    log "downloading nvidia-cuda-runtime-cu12==$CUDART_VERSION"
    "$python" -m pip download -q --no-deps --only-binary=:all: \
      -d "$cache/wheels" "nvidia-cuda-runtime-cu12==$CUDART_VERSION" >&2
    rt_whl=$(ls "$cache"/wheels/nvidia_cuda_runtime_cu12-$CUDART_VERSION-*.whl | head -n1)
  fi
  # A wheel is a zip; python's zipfile avoids depending on the unzip package.
  "$python" - "$tc_whl" "$rt_whl" "$dest" <<'EOF'
import shutil, sys, zipfile
from pathlib import Path

tc_whl, rt_whl, dest = sys.argv[1], sys.argv[2], Path(sys.argv[3])
members = [
    (tc_whl, "tritonclient-2.40.0.data/data/bin/perf_analyzer", dest / "bin" / "perf_analyzer"),
    (rt_whl, "nvidia/cuda_runtime/lib/libcudart.so.12", dest / "lib" / "libcudart.so.12"),
]
for whl, name, out in members:
    # Write then rename, so an interrupted run never leaves a half file that
    # the next run's existence check would accept.
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(whl) as zf, zf.open(name) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    tmp.chmod(0o755)
    tmp.replace(out)
EOF
fi

# The wrapper keeps LD_LIBRARY_PATH local to perf_analyzer, so neither the
# caller's environment nor the server's is touched.
cat >"$wrapper.tmp" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$dest/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$dest/bin/perf_analyzer" "\$@"
EOF
chmod +x "$wrapper.tmp"
mv "$wrapper.tmp" "$wrapper"

# --version exits 0 and prints the version; a missing shared library shows up
# as a loader error instead. (--help is no test: it exits 99 by design.)
if ! version=$("$wrapper" --version 2>&1) || [[ "$version" != *"Version $TRITONCLIENT_VERSION"* ]]; then
  log "the binary does not start:"
  printf '%s\n' "$version" | head -n5 >&2
  exit 1
fi
log "$version"
echo "$wrapper"
