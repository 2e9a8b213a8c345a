"""Building from source: a missing dependency is named with its packages, and
a build without gRPC is an HTTP-only core that refuses gRPC in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The test extra's cmake (next to this Python), else the system's.
CMAKE = str(Path(sys.executable).with_name("cmake")) if Path(sys.executable).with_name("cmake").exists() else "cmake"


def _configure(tmp_path: Path, *defines: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """CMake's configure step only (a second or two): what a pip install shows first."""
    # Cython is not what these checks are about: any program stands in for it.
    cmd = [CMAKE, "-S", str(REPO_ROOT), "-B", str(tmp_path / "build"), f"-DPython_EXECUTABLE={sys.executable}",
           "-DCYTHON_EXECUTABLE=/bin/true", *defines]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def _first_error(output: str) -> str:
    """The first CMake error, up to its call stack."""
    start = output.index("CMake Error")
    return output[start:output.find("Call Stack", start)]


@pytest.mark.parametrize("defines, env, what, apt, dnf", [
    (["-DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON"], {}, "pkg-config", "pkg-config", "pkgconf-pkg-config"),
    (["-DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON"], {}, "libcurl", "libcurl4-openssl-dev", "libcurl-devel"),
    (["-DPA_GRPC=ON"], {"PKG_CONFIG_LIBDIR": "/nonexistent"}, "gRPC", "libgrpc-dev", "grpc-devel"),
    ([], {"CC": "/nonexistent/cc"}, "a C compiler", "build-essential", "gcc"),
], ids=["pkg-config", "curl", "grpc-required", "compiler"])
def test_missing_dependency_names_its_packages(tmp_path: Path, defines: list[str], env: dict[str, str],
                                               what: str, apt: str, dnf: str) -> None:
    proc = _configure(tmp_path, *defines, env=env)
    assert proc.returncode != 0
    error = _first_error(proc.stdout + proc.stderr)
    assert f"perfanalyzer: {what}" in error, error
    assert f"apt-get install {apt}" in error and f"dnf install {dnf}" in error, error


def test_grpc_absent_builds_http_only_with_a_warning(tmp_path: Path) -> None:
    proc = _configure(tmp_path, env={"PKG_CONFIG_LIBDIR": "/nonexistent"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "building HTTP only" in out and "apt-get install libgrpc-dev" in out, out
    assert "HAS_GRPC = False" in (tmp_path / "build" / "pa_features.pxi").read_text()


@pytest.fixture(scope="module")
def http_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An HTTP-only build (-DPA_GRPC=OFF), unpacked where PYTHONPATH finds it first."""
    root = tmp_path_factory.mktemp("http-only")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "wheel"),
         "--config-settings=cmake.define.PA_GRPC=OFF", str(REPO_ROOT)],
        capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheel = next((root / "wheel").glob("perfanalyzer-*.whl"))
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                              str(root / "site"), str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    return root / "site"


def _run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(site)})


def test_http_only_build_profiles_over_http(http_only: Path, triton) -> None:
    found = _run(http_only, "-c", "from perfanalyzer import _core; print(_core.__file__, _core.HAS_GRPC)")
    assert found.stdout.startswith(str(http_only)) and found.stdout.split()[-1] == "False", found
    run = _run(http_only, "-m", "perfanalyzer", "-m", "identity", "-u", triton.http_url,
               "-p", "300", "-s", "100", "-r", "10")
    assert run.returncode == 0, run.stderr
    assert "Throughput:" in run.stdout, run.stdout


@pytest.mark.parametrize("flags, what", [(["-i", "grpc"], "-i grpc"),
                                         (["--service-kind", "tfserving"], "--service-kind tfserving")])
def test_http_only_build_refuses_grpc_in_one_line(http_only: Path, flags: list[str], what: str) -> None:
    # No server: the refusal comes before anything is contacted.
    run = _run(http_only, "-m", "perfanalyzer", "-m", "identity", "-u", "127.0.0.1:9", *flags)
    assert run.returncode == 3, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"error: {what}") and "built without gRPC" in lines[0], lines[0]
    assert "apt-get install libgrpc-dev" in lines[0] and "make wheel" in lines[0], lines[0]
