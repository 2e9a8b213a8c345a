"""Checks of the benchmark's parsing and CPU accounting, on real perf_analyzer 2.40 output.

Stdlib unittest so it needs nothing installed:
    python3 -m unittest discover -s bench -p 'test_*.py'
(pytest collects it too.) testdata/ holds console logs and CSVs captured from
the C++ perf_analyzer 2.40 against Triton's identity model; see its README.
"""

from __future__ import annotations

import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_http import run_client  # noqa: E402
from pa_output import parse_console, parse_csv  # noqa: E402
from results import Run, report  # noqa: E402

DATA = HERE / "testdata"


class ConsoleTest(unittest.TestCase):
    def test_stable_level(self) -> None:
        got = parse_console((DATA / "pa240_c1.log").read_text(), 1)
        self.assertEqual(got, {"throughput": 3170.62, "avg_latency_us": 314.0, "p99_latency_us": 614.0})

    def test_verbose_pass_lines_are_not_taken_for_the_result(self) -> None:
        # "Pass [n] throughput: ... Avg latency: ..." precede the real figures.
        got = parse_console((DATA / "pa240_verbose_c4_c16.log").read_text(), 4)
        self.assertEqual(got, {"throughput": 4827.31, "avg_latency_us": 827.0, "p99_latency_us": 3894.0})

    def test_unstable_level_gives_nothing(self) -> None:
        text = (DATA / "pa240_verbose_c4_c16.log").read_text()
        self.assertEqual(parse_console(text, 16), {})
        self.assertEqual(parse_console((DATA / "pa240_c4_unstable.log").read_text(), 4), {})

    def test_absent_level_gives_nothing(self) -> None:
        self.assertEqual(parse_console((DATA / "pa240_c1.log").read_text(), 4), {})

    def test_levels_of_one_sweep(self) -> None:
        text = (DATA / "pa240_sweep_1_4.log").read_text()
        for c in (1, 4):
            got = parse_console(text, c)
            self.assertEqual(set(got), {"throughput", "avg_latency_us", "p99_latency_us"}, c)
        self.assertNotEqual(parse_console(text, 1), parse_console(text, 4))


class CsvTest(unittest.TestCase):
    def test_row_by_concurrency(self) -> None:
        got = parse_csv(DATA / "pa240_c1.csv", 1)
        self.assertEqual(got, {"throughput": 3170.62, "p99_latency_us": 614.0})
        self.assertEqual(parse_csv(DATA / "pa240_c1.csv", 16), {})

    def test_csv_and_console_agree(self) -> None:
        for c in (1, 4):
            console = parse_console((DATA / "pa240_sweep_1_4.log").read_text(), c)
            table = parse_csv(DATA / "pa240_sweep_1_4.csv", c)
            self.assertEqual(table["throughput"], console["throughput"])
            self.assertEqual(table["p99_latency_us"], console["p99_latency_us"])


class RunClientTest(unittest.TestCase):
    def test_cpu_time_of_the_child_only(self) -> None:
        burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nprint('ok')"
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "out.log"
            rc, wall, user, sys_ = run_client([sys.executable, "-c", burn], log, 30.0, None)
            self.assertEqual(rc, 0)
            self.assertEqual(log.read_text().strip(), "ok")
        self.assertGreaterEqual(user + sys_, 0.3)
        self.assertLess(user + sys_, 2.0)
        self.assertGreaterEqual(wall, 0.3)

    def test_hung_client_is_killed(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            rc, wall, _, _ = run_client(["sleep", "30"], Path(tmp) / "log", 0.5, None)
        self.assertEqual(rc, -9)
        self.assertLess(wall, 5)


class ReportTest(unittest.TestCase):
    def run_(self, side: str, thr: float | None, cpu: float, rc: int = 0) -> Run:
        return Run(side, 1, 1, rc, 1.0, cpu, 0.0, 1000, 0, thr, 100.0, 200.0, cpu * 1000)

    def test_median_and_ratio(self) -> None:
        runs = [
            self.run_("ours", 90.0, 0.05),
            self.run_("ours", 110.0, 0.06),
            self.run_("ours", 100.0, 0.07),
            self.run_("theirs", 200.0, 0.1),
        ]
        table = report(runs, [1])
        self.assertIn("| 1 | throughput (infer/s) | 100.0 [90.0–110.0] | 200.0 | 0.50 |", table)
        self.assertIn("| 1 | client CPU per request (µs) | 60.0 [50.0–70.0] | 100.0 | 0.60 |", table)

    def test_failed_run_is_listed_and_skipped(self) -> None:
        runs = [self.run_("ours", None, 0.05, rc=2), self.run_("theirs", 200.0, 0.1)]
        table = report(runs, [1])
        self.assertIn("| 1 | throughput (infer/s) | n/a | 200.0 | n/a |", table)
        self.assertIn("ours c=1 round 1 (exit 2, 0 failed requests)", table)


if __name__ == "__main__":
    unittest.main()
