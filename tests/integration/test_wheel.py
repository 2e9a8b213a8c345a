"""The wheel `make wheel` builds, installed into a clean venv as a pip user would:
the compiled core loads the libgrpc and libcurl bundled in the wheel (never the
system's), works next to grpcio from PyPI in one process, and profiles a real
Triton over HTTP and gRPC.

PA_WHEEL names a wheel already built (`make test` builds it once); without it
the test runs `make wheel` itself (a minute or two)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICK = ["-p", "300", "-s", "100", "-r", "10"]  # a few short windows: this checks loading, not numbers
# What a manylinux wheel may take from the system (PEP 600 policies); anything else must be bundled.
SYSTEM_LIBS = ("linux-vdso", "ld-linux", "libc.so", "libm.so", "libpthread", "libdl.so", "librt.so", "libz.so",
               "libresolv", "libstdc++", "libgcc_s", "libutil", "libnsl")
BUNDLED = ("libgrpc", "libgpr", "libcurl")

# Run in the clean venv: grpcio (through tritonclient) and the core's own gRPC
# in one process, one gRPC and one HTTP profile, then what the process mapped.
PROBE = r"""
import json, sys
import grpc
import tritonclient.grpc
from perfanalyzer.cli import main
codes = [main(args) for args in json.loads(sys.argv[1])]
maps = sorted({f.split()[-1] for f in open("/proc/self/maps") if len(f.split()) >= 6 and "/" in f.split()[-1]})
json.dump({"codes": codes, "maps": maps, "grpcio": grpc.__version__}, open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("PA_WHEEL")
    if given:
        assert Path(given).is_file(), f"PA_WHEEL={given}: no such file"
        return Path(given)
    out = tmp_path_factory.mktemp("wheelhouse")
    build = subprocess.run(["make", "--no-print-directory", "wheel", f"WHEEL_DIR={out}"], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (path,) = out.glob("perfanalyzer-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and the dependencies it declares, nothing else."""
    root = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    install = subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "-q",
                              "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    return root


def _core_path(venv: Path) -> Path:
    (core,) = venv.glob("lib/python*/site-packages/perfanalyzer/_core.*.so")
    return core


def test_wheel_is_manylinux(wheel: Path) -> None:
    assert re.search(r"-manylinux_2_\d+_x86_64\.whl$", wheel.name), wheel.name


def test_core_resolves_grpc_and_curl_inside_the_wheel(venv: Path) -> None:
    core = _core_path(venv)
    libs = core.parent.parent / "perfanalyzer.libs"
    ldd = subprocess.run(["ldd", str(core)], capture_output=True, text=True, timeout=60, check=True).stdout
    resolved: dict[str, str] = {}
    for line in ldd.splitlines():
        words = line.split()  # "name => path (address)", or "path (address)" for the vdso and the loader
        path = words[2] if words[1:2] == ["=>"] else words[0]
        resolved[Path(words[0]).name] = os.path.normpath(path)
    assert "not found" not in ldd, ldd
    for prefix in BUNDLED:
        hits = [path for name, path in resolved.items() if name.startswith(prefix + "-")]
        assert hits and all(p.startswith(str(libs)) for p in hits), (prefix, ldd)
    outside = [n for n, p in resolved.items() if not p.startswith(str(libs)) and not n.startswith(SYSTEM_LIBS)]
    assert not outside, f"taken from the system: {outside}\n{ldd}"


def test_wheel_profiles_http_and_grpc_next_to_grpcio(venv: Path, triton, tmp_path: Path) -> None:
    runs = [["-m", "identity", "-i", "grpc", "-u", triton.grpc_url, *QUICK],
            ["-m", "identity", "-u", triton.http_url, *QUICK]]
    out = tmp_path / "probe.json"
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", PROBE, json.dumps(runs), str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    probe = json.loads(out.read_text())
    assert probe["codes"] == [0, 0], proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("Throughput:") >= 2, proc.stdout
    maps = probe["maps"]
    site = str(_core_path(venv).parent.parent)
    ours = [m for m in maps if m.startswith(site + "/perfanalyzer.libs/")]
    for prefix in BUNDLED:
        assert any(Path(m).name.startswith(prefix + "-") for m in ours), (prefix, maps)
    # grpcio's own core is loaded too, from its package.
    assert any(m.startswith(site + "/grpc/_cython/cygrpc") for m in maps), maps
    system = [m for m in maps if Path(m).name.startswith(BUNDLED) and not m.startswith(site)]
    assert not system, f"the system's copies are mapped: {system}"


def test_console_script_profiles(venv: Path, triton, tmp_path: Path) -> None:
    csv = tmp_path / "identity.csv"
    proc = subprocess.run([str(venv / "bin" / "perfanalyzer"), "-m", "identity", "-i", "grpc", "-u", triton.grpc_url,
                           *QUICK, "-f", str(csv)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert csv.read_text().startswith("Concurrency,Inferences/Second"), csv.read_text()
