"""Server traces: --trace-file/--trace-level/--trace-rate/--trace-count/
--log-frequency set on the model through Triton's trace extension for the run,
then put back as they were, also when the run fails or is interrupted.

As perf_analyzer, only the settings named on the command line are sent."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from perfanalyzer.errors import ServerError
from perfanalyzer.settings import TRACE_LEVELS, Settings

__all__ = ["TRACE_LEVELS", "TraceSession", "requested"]


@runtime_checkable
class TraceService(Protocol):
    def trace_settings(self, model: str = "") -> dict[str, Any]: ...
    def update_trace_settings(self, model: str, changes: dict[str, Any]) -> dict[str, Any]: ...


def requested(s: Settings) -> dict[str, Any]:
    """The trace settings the flags ask for, in the extension's JSON form (strings)."""
    out: dict[str, Any] = {}
    if s.trace_file is not None:
        out["trace_file"] = s.trace_file
    if s.trace_levels:
        out["trace_level"] = list(s.trace_levels)
    if s.trace_rate is not None:
        out["trace_rate"] = str(s.trace_rate)
    if s.trace_count is not None:
        out["trace_count"] = str(s.trace_count)
    if s.log_frequency is not None:
        out["log_frequency"] = str(s.log_frequency)
    return out


class TraceSession:
    """`with TraceSession(service, model, wanted):` applies, then restores."""

    def __init__(self, service: TraceService, model: str, wanted: dict[str, Any]) -> None:
        self.service = service
        self.model = model
        self.wanted = dict(wanted)
        self.restore: dict[str, Any] = {}
        self.applied: dict[str, Any] = {}

    def __enter__(self) -> TraceSession:
        if not self.wanted:
            return self
        try:
            self._apply()
        except BaseException:
            self.close()  # whatever was already changed goes back
            raise
        return self

    def _apply(self) -> None:
        before = self.service.trace_settings(self.model)
        global_ = self.service.trace_settings()
        changes = dict(self.wanted)
        wanted_file = changes.pop("trace_file", None)
        levels = [str(x) for x in changes.get("trace_level", ())]
        if wanted_file is None and not before.get("trace_file") and any(x != "OFF" for x in levels):
            # Triton refuses a trace level without a file ("trace file name is
            # not given"), and since 2.42 a client cannot name one.
            raise ServerError(
                f"--trace-level {' '.join(levels)}: the server has no trace file to write traces to; start "
                "tritonserver with --trace-config triton,file=PATH (clients cannot set the file on Triton "
                "2.42 and later, so --trace-file cannot)"
            )
        if wanted_file is not None and wanted_file != before.get("trace_file"):
            # Triton >= 2.42 no longer lets clients move the trace file.
            try:
                self.service.update_trace_settings(self.model, {"trace_file": wanted_file})
            except ServerError as e:
                raise ServerError(
                    f"--trace-file {wanted_file}: {e}. The server writes traces to "
                    f"{before.get('trace_file') or '(no file)'}; start tritonserver with "
                    f"--trace-config triton,file={wanted_file} to trace into that file"
                ) from None
            changes["trace_file"] = wanted_file
        for key in changes:
            # A setting the model only inherited goes back to inheriting (null).
            old = before.get(key)
            self.restore[key] = None if old == global_.get(key) else old
        if "trace_file" in changes:
            self.restore["trace_file"] = before.get("trace_file")
        changes.pop("trace_file", None)
        if changes:
            self.applied = self.service.update_trace_settings(self.model, changes)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Puts the previous settings back; Triton flushes the trace file then."""
        if not self.restore:
            return
        restore, self.restore = self.restore, {}
        file_ = restore.pop("trace_file", None)
        if restore:
            self.service.update_trace_settings(self.model, restore)
        if file_ is not None:
            self.service.update_trace_settings(self.model, {"trace_file": file_})
