"""Checks of the benchmark's parsing and CPU accounting, on real perf_analyzer 2.40 output.

Stdlib unittest so it needs nothing installed:
    python3 -m unittest discover -s bench -p 'test_*.py'
(pytest collects it too.) testdata/ holds console logs and CSVs captured from
the C++ perf_analyzer 2.40 and from ours against Triton's identity model; see
its README.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_http import client_setup, run_client  # noqa: E402
from compare_http import parse_args as parse_http_args  # noqa: E402
from compare_rate import RateRun, client_sides, failure_reason, met_within, server_rate  # noqa: E402
from compare_rate import parse_args as parse_rate_args  # noqa: E402
from compare_rate import report as rate_report  # noqa: E402
from null_server import read_port  # noqa: E402
from pa_output import parse_console, parse_csv, parse_rate_console  # noqa: E402
from rate_report import met_exactly  # noqa: E402
from results import Run, Sample, report, steady_cpu_per_request  # noqa: E402
from wrk_cpu import Sample as CpuSample  # noqa: E402
from wrk_cpu import lua_string, parse_wrk  # noqa: E402
from wrk_cpu import table as cpu_table  # noqa: E402

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

    def test_samples_follow_the_childs_cpu(self) -> None:
        burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.2: pass"
        counts = iter(range(0, 10**6, 100))
        samples: list[Sample] = []
        with tempfile.TemporaryDirectory() as tmp:
            rc, _, user, sys_ = run_client([sys.executable, "-c", burn], Path(tmp) / "log", 30.0, None,
                                           lambda: next(counts), samples)
        self.assertEqual(rc, 0)
        self.assertGreaterEqual(len(samples), 2)
        self.assertEqual([s.server_count for s in samples], list(range(0, 100 * len(samples), 100)))
        self.assertEqual(samples, sorted(samples, key=lambda s: s.t_s))
        self.assertLessEqual(samples[-1].cpu_s, user + sys_ + 0.02)
        self.assertGreater(samples[-1].cpu_s, samples[0].cpu_s)

    def test_hung_client_is_killed(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            rc, wall, _, _ = run_client(["sleep", "30"], Path(tmp) / "log", 0.5, None)
        self.assertEqual(rc, -9)
        self.assertLess(wall, 5)


class SteadyCpuTest(unittest.TestCase):
    def test_slope_over_the_steady_stretch_only(self) -> None:
        # 1 s of start-up burning 0.5 s of CPU and serving nothing, then
        # 10 µs of CPU per request at 10,000 requests/s, then a costly end.
        samples = [Sample(0.5, 0.25, 0), Sample(1.0, 0.5, 0)]
        samples += [Sample(1.0 + k * 0.5, 0.5 + k * 0.05, k * 5000) for k in range(1, 17)]
        samples.append(Sample(9.5, 2.0, 80000))
        self.assertAlmostEqual(steady_cpu_per_request(samples, wall_s=10.0), 10.0)

    def test_no_figure_without_a_long_enough_stretch(self) -> None:
        self.assertIsNone(steady_cpu_per_request([], 10.0))
        self.assertIsNone(steady_cpu_per_request([Sample(3.0, 1.0, 0)], 10.0))
        self.assertIsNone(steady_cpu_per_request([Sample(3.0, 1.0, 0), Sample(4.0, 1.1, 500)], 10.0))
        self.assertIsNone(steady_cpu_per_request([Sample(0.5, 0.1, 0), Sample(1.0, 0.2, 5000)], 2.0))


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


class RateConsoleTest(unittest.TestCase):
    """Request-rate mode: the C++ tool's send rate and warning, our lag line."""

    def test_theirs_with_delayed_warning(self) -> None:
        got = parse_rate_console((DATA / "pa240_rate1000.log").read_text(), 1000)
        self.assertEqual(
            got,
            {
                "throughput": 999.85,
                "avg_latency_us": 556.0,
                "p99_latency_us": 2678.0,
                "send_rate": 1000.12,
                "delayed_warning_pct": 1.43,
            },
        )

    def test_theirs_overloaded(self) -> None:
        got = parse_rate_console((DATA / "pa240_rate10000.log").read_text(), 10000)
        self.assertEqual(got["delayed_warning_pct"], 100.0)
        self.assertEqual(got["send_rate"], 8355.51)
        self.assertEqual(got["throughput"], 8361.26)

    def test_theirs_on_time_prints_neither_send_rate_nor_warning(self) -> None:
        got = parse_rate_console((DATA / "pa240_rate200.log").read_text(), 200)
        self.assertEqual(got, {"throughput": 200.053, "avg_latency_us": 1224.0, "p99_latency_us": 3650.0})

    def test_theirs_unstable_gives_nothing(self) -> None:
        self.assertEqual(parse_rate_console((DATA / "pa240_rate3000_unstable.log").read_text(), 3000), {})

    def test_ours_lag_line(self) -> None:
        got = parse_rate_console((DATA / "ours_rate1000.log").read_text(), 1000)
        self.assertEqual(
            got,
            {
                "throughput": 999.662,
                "avg_latency_us": 449.0,
                "p99_latency_us": 1843.0,
                "lag_p50_us": 0.0,
                "lag_p99_us": 361.0,
                "delayed": 40.0,
                "scheduled": 6001.0,
            },
        )

    def test_ours_warning_after_the_block_belongs_to_it(self) -> None:
        got = parse_rate_console((DATA / "ours_rate1000_warned.log").read_text(), 1000)
        self.assertEqual(got["delayed_warning_pct"], 1.6)
        self.assertEqual((got["delayed"], got["scheduled"]), (96.0, 6010.0))
        self.assertEqual((got["lag_p50_us"], got["lag_p99_us"]), (0.0, 1848.0))

    def test_ours_warning_with_send_rate(self) -> None:
        got = parse_rate_console((DATA / "ours_rate10000_maxinflight4.log").read_text(), 10000)
        self.assertEqual(got["delayed_warning_pct"], 82.99)
        self.assertEqual(got["send_rate"], 11344.3)
        self.assertEqual(got["throughput"], 11344.3)
        self.assertEqual((got["lag_p50_us"], got["lag_p99_us"]), (409337.0, 988545.0))

    def test_ours_unstable_still_parses(self) -> None:
        # Ours prints the merged UNSTABLE windows; compare_rate drops them by
        # exit code, not by parsing, so the parser must not hide them.
        got = parse_rate_console((DATA / "ours_rate5000_unstable.log").read_text(), 5000)
        self.assertEqual(got["throughput"], 4835.74)
        self.assertEqual(got["delayed_warning_pct"], 14.63)
        self.assertEqual((got["delayed"], got["scheduled"]), (4246.0, 29028.0))

    def test_other_rate_or_concurrency_gives_nothing(self) -> None:
        text = (DATA / "ours_rate1000.log").read_text()
        self.assertEqual(parse_rate_console(text, 5000), {})
        self.assertEqual(parse_console(text, 1), {})
        self.assertEqual(parse_rate_console((DATA / "pa240_c1.log").read_text(), 1), {})

    def test_csv_by_request_rate(self) -> None:
        for name, thr, p99 in (("pa240_rate1000.csv", 999.845, 2678.0), ("ours_rate1000.csv", 999.662, 1843.0)):
            self.assertEqual(parse_csv(DATA / name, 1000, "Request Rate"), {"throughput": thr, "p99_latency_us": p99})
            self.assertEqual(parse_csv(DATA / name, 5000, "Request Rate"), {})
            self.assertEqual(parse_csv(DATA / name, 1000), {}, "no Concurrency column")


class ServerRateTest(unittest.TestCase):
    def test_rate_between_polls_inside_the_sending_period(self) -> None:
        # Spawned at t=0; nothing counted until the poll at 0.4 s, then 1000/s
        # until sending stops between 2.0 and 2.1 s; the exit poll adds nothing.
        samples = [(0.0, 500), (0.1, 500), (0.2, 500), (0.3, 500), (0.4, 550)]
        samples += [(0.4 + 0.1 * k, 550 + 100 * k) for k in range(1, 17)]  # up to (2.0, 2150)
        samples += [(2.1, 2180), (2.2, 2180), (2.3, 2180)]
        rate, startup = server_rate(samples, 0.0)
        self.assertAlmostEqual(startup or 0.0, 0.4)
        self.assertAlmostEqual(rate or 0.0, 1000.0)

    def test_no_traffic(self) -> None:
        self.assertEqual(server_rate([(0.0, 7), (0.1, 7), (0.2, 7)], 0.0), (None, None))

    def test_too_short_to_bracket(self) -> None:
        rate, startup = server_rate([(0.0, 0), (0.1, 0), (0.2, 40), (0.3, 40)], 0.0)
        self.assertIsNone(rate)
        self.assertAlmostEqual(startup or 0.0, 0.2)


class RateReportTest(unittest.TestCase):
    def run_(self, side: str, rc: int, thr: float | None, delayed: float | None) -> RateRun:
        lag = 10.0 if side == "ours" and rc == 0 else None
        return RateRun(
            side, 1000.0, 1, rc, 10.0, 0.5, 0.5, 10000, 0, thr, 500.0, None, delayed, lag, lag,
            990.0, 0.3, 100.0, 0,
        )  # fmt: skip

    def test_rows_counts_and_failed_runs(self) -> None:
        runs = [
            self.run_("ours", 0, 1000.0, 0.5),
            self.run_("ours", 2, None, None),
            self.run_("theirs", 0, 990.0, 1.5),
            self.run_("theirs", 0, 1010.0, None),
        ]
        table = rate_report(runs, [1000.0])
        self.assertIn("| 1,000 | throughput reported (infer/s) | 1,000.0 | 1,000.0 [990.0–1,010.0] | 1.00 |", table)
        self.assertIn("| 1,000 | server-counted rate (req/s) | 990.0 [990.0–990.0] |", table)
        self.assertIn("| 1,000 | delayed (%) | 0.50 | 1.50 (1 of 2 warned) | — |", table)
        self.assertIn("ours 1,000: 1 of 2; theirs 1,000: 2 of 2", table)
        self.assertIn("ours 1,000 round 1 (exit 2)", table)

    def test_highest_rate_met_within_one_percent(self) -> None:
        def at(side: str, rate: float, served: float) -> RateRun:
            run = self.run_(side, 0, served, 0.0)
            run.rate, run.server_rate = rate, served
            return run

        runs = [at("ours", 1000.0, 999.0), at("ours", 5000.0, 4960.0), at("ours", 9000.0, 8000.0),
                at("theirs", 1000.0, 985.0), at("theirs", 5000.0, 5000.0)]
        self.assertEqual(met_within(runs, [1000.0, 5000.0, 9000.0], "ours"), 5000.0)
        self.assertEqual(met_within(runs, [1000.0, 5000.0, 9000.0], "theirs"), 5000.0)
        self.assertIsNone(met_within(runs[2:3], [9000.0], "ours"))
        # the median of two rounds is their mean: 0.925 of 9,000 is not within 1 %
        pair = [at("ours", 9000.0, 7650.0), at("ours", 9000.0, 9000.0)]
        self.assertIsNone(met_within(pair, [9000.0], "ours"))
        self.assertEqual(met_within([at("ours", 9000.0, 9050.0)], [9000.0], "ours"), 9000.0)
        self.assertEqual(runs[2].achieved_ratio, 8000.0 / 9000.0)
        table = rate_report(runs, [1000.0, 5000.0, 9000.0])
        self.assertIn("Highest target rate met within 1 % (median server-counted rate): ours 5,000 req/s; "
                      "theirs 5,000 req/s.", table)
        self.assertIn("| 9,000 | achieved / target (server-counted) | 0.889 | n/a | n/a |", table)
        # ours' runs printed a p99 lag of 10 µs; the C++ tool prints none
        self.assertIn("| ours | 5,000 req/s | 10 | 5,000 req/s |", table)
        self.assertIn("| theirs | 5,000 req/s | n/a | none |", table)

    def test_each_client_its_column_and_the_lag_limit(self) -> None:
        def at(side: str, rate: float, served: float, lag: float) -> RateRun:
            run = self.run_("ours", 0, served, 0.0)
            run.side, run.rate, run.server_rate, run.lag_p99_us = side, rate, served, lag
            return run

        runs = [at("ours", 20000.0, 20000.0, 40.0), at("ours", 40000.0, 39990.0, 250.0),
                at("ours-curl", 20000.0, 19000.0, 90.0), at("ours-curl", 40000.0, 30000.0, 900.0)]
        levels = [20000.0, 40000.0]
        self.assertEqual(met_exactly(runs, levels, "ours"), 20000.0)  # 40k met, but its lag is over 100 µs
        self.assertIsNone(met_exactly(runs, levels, "ours-curl"))
        table = rate_report(runs, levels)
        # ours only: no perf_analyzer column and no ratio
        self.assertIn("| target req/s | metric | ours median [min–max] | ours-curl median [min–max] |\n", table)
        self.assertIn("| 40,000 | server-counted rate (req/s) | 39,990.0 | 30,000.0 |", table)
        self.assertIn("| ours | 40,000 req/s | 250 | 20,000 req/s |", table)
        self.assertIn("| ours-curl | none | n/a | none |", table)

    def test_sides_per_transport_and_ours_only(self) -> None:
        args = parse_rate_args(["--transports", "native,curl", "--ours-args", "--max-inflight 4"])
        sides = client_sides(args, ["pa"], ["theirs-pa"])
        self.assertEqual([(s[0], s[2]) for s in sides],
                         [("ours", "--http-client native --max-inflight 4"),
                          ("ours-curl", "--http-client curl --max-inflight 4"), ("theirs", "")])
        args = parse_rate_args(["--ours-only"])
        self.assertEqual([s[0] for s in client_sides(args, ["pa"], [])], ["ours"])
        for bad in (["--transports", "grpc"], ["--ours-only", "--theirs", "x"]):
            with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
                parse_rate_args(bad)

    def test_failure_reasons(self) -> None:
        self.assertEqual(failure_reason((DATA / "pa240_rate3000_unstable.log").read_text(), 2), "did not stabilise")
        self.assertEqual(failure_reason((DATA / "ours_rate5000_unstable.log").read_text(), 2), "did not stabilise")
        emfile = "x\ncannot connect to h:1: Too many open files\n"
        self.assertEqual(failure_reason(emfile, 99), "out of file descriptors")
        self.assertEqual(failure_reason("", -9), "killed by signal 9")


@unittest.skipUnless(len(os.sched_getaffinity(0)) > 1, "needs two CPUs")
class ClientSetupTest(unittest.TestCase):
    def test_taskset_moves_the_bench_off_the_clients_cpu(self) -> None:
        # its sampling thread on the client's CPU showed as the client's schedule lag
        before = os.sched_getaffinity(0)
        cpu = min(before)
        try:
            args = parse_http_args(["--taskset", str(cpu), "--ours", sys.executable, "--theirs", sys.executable])
            _, _, client, server = client_setup(args)
            self.assertEqual(client, {cpu})
            self.assertEqual(server, before - {cpu})
            self.assertEqual(os.sched_getaffinity(0), before - {cpu})
        finally:
            os.sched_setaffinity(0, before)


class NullServerTest(unittest.TestCase):
    def test_port_line(self) -> None:
        self.assertEqual(read_port("port 40221\n"), 40221)
        for bad in ("", "listening on 1\n", "port x\n"):
            with self.assertRaises(ValueError):
                read_port(bad)


class WrkCpuTest(unittest.TestCase):
    def test_wrk_report(self) -> None:
        got = parse_wrk((DATA / "wrk_post_c4.log").read_text())
        self.assertEqual(got, {"requests": 29032, "seconds": 1.11, "non2xx": 0, "socket_errors": 0})
        got = parse_wrk((DATA / "wrk_get_c4_404.log").read_text())
        self.assertEqual((got["requests"], got["non2xx"]), (10866, 10866))

    def test_wrk_units_errors_and_missing_line(self) -> None:
        text = ("  600 requests in 1.00m, 1.00KB read\n"
                "  Socket errors: connect 1, read 2, write 0, timeout 3\n")
        got = parse_wrk(text)
        self.assertEqual((got["seconds"], got["socket_errors"]), (60.0, 6))
        self.assertEqual(parse_wrk("  7 requests in 500.00ms, 1KB read\n")["seconds"], 0.5)
        with self.assertRaises(ValueError):
            parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")

    def test_lua_string_keeps_every_byte(self) -> None:
        self.assertEqual(lua_string(b'a"\\\x00\xff~'), '"a\\034\\092\\000\\255~"')

    def test_table_medians_and_ratio(self) -> None:
        samples = [CpuSample("ours", 4, r, n, 2.0, cpu) for r, (n, cpu) in enumerate(
                       [(20000, 0.2), (20000, 0.22), (20000, 0.18)])]  # 10, 11, 9 µs/request
        samples += [CpuSample("wrk", 4, r, 20000, 2.0, 0.16) for r in range(3)]  # 8 µs/request
        samples += [CpuSample("wrk", 1, 0, 1000, 1.0, 0.033)]  # a level ours did not run: no ratio
        rows = cpu_table(samples, [4, 1]).splitlines()
        self.assertEqual(rows[2], "| 4 | ours | 10,000 | 10.0 [9.0–11.0] | 1.25× |")
        self.assertEqual(rows[3], "| 4 | wrk | 10,000 | 8.0 [8.0–8.0] |  |")
        self.assertEqual(rows[4], "| 1 | wrk | 1,000 | 33.0 [33.0–33.0] |  |")
        self.assertEqual(len(rows), 5)


if __name__ == "__main__":
    unittest.main()
