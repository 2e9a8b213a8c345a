"""One measurement from many client processes on Ray (--ray-address,
--ray-workers). Ray is imported only here, and only when a run asks for it.

split: how the load, budgets and sequence IDs divide over the workers.
worker: the client process (a Ray actor running its own compiled engine).
group: the driver's side, which stands in for the local engine."""

from __future__ import annotations

from typing import Any

from perfanalyzer.distributed.split import check

__all__ = ["check", "open_group"]


def open_group(settings: Any, out: Any, warn: Any = None) -> Any:
    """The workers, created and placed (not yet started): see group.RayGroup."""
    from perfanalyzer.distributed.group import RayGroup

    return RayGroup(settings, out, warn)
