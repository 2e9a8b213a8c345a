"""Checks of compare_capi.py's table and of the install layout it builds for
the C++ perf_analyzer. Stdlib unittest (pytest collects it too)."""

from __future__ import annotations

import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_capi import cpp_layout, table  # noqa: E402


class TableTest(unittest.TestCase):
    def test_medians_ratio_and_failed_runs(self) -> None:
        runs = {
            ("capi", 1): [{"throughput": 9000.0, "avg_latency_us": 100.0, "p99_latency_us": 300.0},
                          {"throughput": 11000.0, "avg_latency_us": 90.0, "p99_latency_us": 200.0}],
            ("http", 1): [{"throughput": 2000.0, "avg_latency_us": 500.0, "p99_latency_us": 900.0}, None],
        }
        out = table(runs, ["capi", "http"], [1]).splitlines()
        self.assertEqual(out[2], "| 1 | throughput (infer/s) | 10,000.0 [9,000.0–11,000.0] | 2,000.0 | 5.00 |")
        self.assertEqual(out[3], "| 1 | avg latency (µs) | 95 [90–100] | 500 | 0.19 |")
        self.assertEqual(out[-1], "Runs that exited non-zero (left out): http c=1 round 2")


class LayoutTest(unittest.TestCase):
    def test_wheel_becomes_an_install_layout(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            site = Path(tmp) / "venv" / "lib" / "python3.11" / "site-packages"
            server = site / "pytriton" / "tritonserver"
            (server / "backends").mkdir(parents=True)
            (site / "nvidia_pytriton.libs").mkdir()
            lib = site / "nvidia_pytriton.libs" / "libtritonserver-abc.so"
            lib.write_bytes(b"")
            layout, env = cpp_layout(server, Path(tmp) / "work")
            self.assertEqual((layout / "lib" / "libtritonserver.so").resolve(), lib.resolve())
            self.assertEqual((layout / "backends").resolve(), (server / "backends").resolve())
            self.assertEqual(env["LD_LIBRARY_PATH"], str(site / "nvidia_pytriton.libs"))
            self.assertTrue(env["PATH"].startswith(str(Path(tmp) / "venv" / "bin") + ":"))
            cpp_layout(server, Path(tmp) / "work")  # a second session reuses it


if __name__ == "__main__":
    unittest.main()
