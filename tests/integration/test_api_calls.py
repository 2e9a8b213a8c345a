"""The Python API against a real Triton: the documented example, nothing
printed unless asked, Ctrl-C raising KeyboardInterrupt only after the
clean-up, and profile_async (a free event loop; cancellation stops the run
cleanly). "Clean" means: no thread left, nothing in /dev/shm, no region
registered on the server."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import perfanalyzer
import pytest
from perfanalyzer.api import ProfileInterrupted, Window

from .test_api_threads import os_threads, settled
from .test_shared_memory import ours, registered

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "api_example.py"
QUICK = dict(measurement_interval_ms=200, stability_percentage=100.0, max_trials=10)


def test_the_documented_example_runs_quietly(triton, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "TRITON_URL": triton.http_url})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["concurrency 1", "concurrency 2", "request rate 200/s"]
    assert proc.stderr == ""  # nothing but what the example prints itself
    rows = list(csv.reader((tmp_path / "identity.csv").open()))
    assert rows[0][0] == "Concurrency" and [r[0] for r in rows[1:]] == ["1", "2"]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_nothing_is_printed_unless_asked(triton, capfd: pytest.CaptureFixture[str], protocol: str) -> None:
    # An unreachable metrics endpoint gives a warning: the CLI writes it on stderr.
    url = triton.grpc_url if protocol == "grpc" else triton.http_url
    lost = dict(url=url, protocol=protocol, concurrency=1, collect_metrics=True, metrics_url="127.0.0.1:9/metrics",
                metrics_interval_ms=50, **QUICK)
    result = perfanalyzer.profile("identity", **lost)  # type: ignore[arg-type]
    assert result.levels and capfd.readouterr() == ("", "")
    messages: list[str] = []
    report: list[str] = []
    perfanalyzer.profile("identity", output=report.append, messages=messages.append, **lost)  # type: ignore[arg-type]
    assert capfd.readouterr() == ("", "")
    assert any("cannot read server metrics from http://127.0.0.1:9/metrics" in m for m in messages), messages
    assert any("Concurrency: 1" in text for text in report)


def test_ctrl_c_raises_keyboard_interrupt_after_the_cleanup(triton) -> None:
    # One profile first: libraries that start their threads once per process have started them.
    perfanalyzer.profile("identity", url=triton.http_url, concurrency=1, **QUICK)  # type: ignore[arg-type]
    shm_before, threads_before = ours(), os_threads()
    windows: list[Window] = []

    def ctrl_c_after_two_windows(w: Window) -> None:
        windows.append(w)
        if len(windows) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as e:
        perfanalyzer.profile("identity", url=triton.http_url, concurrency=(1, 50), shared_memory="system",
                             on_window=ctrl_c_after_two_windows, **QUICK)  # type: ignore[arg-type]
    assert isinstance(e.value, ProfileInterrupted) and e.value.result.status == "interrupted"
    assert len(windows) == 2  # the sweep ended at the signal, not 50 levels later
    assert ours() == shm_before and registered(triton) == []
    assert settled(os_threads, threads_before) <= threads_before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's handler is back


def test_profile_async_leaves_the_event_loop_free(triton) -> None:
    windows: list[Window] = []
    seen_during_run: list[int] = []

    async def main() -> perfanalyzer.api.ProfileResult:
        run = asyncio.ensure_future(perfanalyzer.profile_async(
            "identity", url=triton.http_url, concurrency=[1, 2], on_window=windows.append,
            **QUICK))  # type: ignore[arg-type]
        while not run.done():
            seen_during_run.append(len(windows))
            await asyncio.sleep(0.01)
        return await run

    result = asyncio.run(main())
    assert [lv.value for lv in result.levels] == [1, 2] and result.status == "ok"
    # The loop ran between windows: a coroutine saw the measurement half done.
    assert any(0 < n < len(windows) for n in seen_during_run)


def test_cancelling_profile_async_stops_the_run_cleanly(triton) -> None:
    perfanalyzer.profile("identity", url=triton.http_url, concurrency=1, **QUICK)  # type: ignore[arg-type]
    shm_before, threads_before = ours(), os_threads()
    windows: list[Window] = []

    async def main() -> None:
        first = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_window(w: Window) -> None:
            windows.append(w)
            loop.call_soon_threadsafe(first.set)

        run = asyncio.ensure_future(perfanalyzer.profile_async(
            "identity", url=triton.http_url, concurrency=(1, 50), shared_memory="system", on_window=on_window,
            **QUICK))  # type: ignore[arg-type]
        await asyncio.wait_for(first.wait(), 60)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(run, 60)
        # The worker has returned: nothing of the run goes on after the cancellation.
        count = len(windows)
        await asyncio.sleep(0.5)
        assert len(windows) == count

    asyncio.run(main())
    assert 1 <= len(windows) < 10
    assert ours() == shm_before and registered(triton) == []
    assert settled(os_threads, threads_before) <= threads_before
