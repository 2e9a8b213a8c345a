"""Which models compose the profiled one: an ensemble's steps (from its
config, recursively) and the models a BLS model calls, which Triton cannot
know and the user names with --bls-composing-models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from perfanalyzer.errors import OptionError, PerfAnalyzerError, ServerError
from perfanalyzer.safe_text import escape_controls

ModelId = tuple[str, str]  # (name, version); "" = the server's choice


def parse_bls_models(text: str) -> tuple[ModelId, ...]:
    """--bls-composing-models 'a:3,b' -> (("a", "3"), ("b", ""))."""
    out: list[ModelId] = []
    for item in text.split(","):
        name, _, version = item.strip().partition(":")
        name, version = name.strip(), version.strip()
        if not name:
            raise OptionError(f"--bls-composing-models '{text}': expected name[:version],name[:version],...")
        if version and not version.isdigit():
            raise OptionError(f"--bls-composing-models {name}:{version}: the version must be a number")
        if (name, version) not in out:
            out.append((name, version))
    return tuple(out)


def ensemble_steps(config: Mapping[str, Any]) -> tuple[ModelId, ...]:
    """The models an ensemble config calls, each once; model_version -1 = latest."""
    if config.get("platform") != "ensemble":
        return ()
    steps: list[ModelId] = []
    scheduling = config.get("ensemble_scheduling", {})
    entries = scheduling.get("step", []) if isinstance(scheduling, Mapping) else None
    if not isinstance(entries, list):
        raise _malformed(config, "ensemble_scheduling.step is not a list")
    for i, step in enumerate(entries):
        name = step.get("model_name") if isinstance(step, Mapping) else None
        version = step.get("model_version", -1) if isinstance(step, Mapping) else None
        if not isinstance(name, str) or not name:
            raise _malformed(config, f"ensemble_scheduling.step[{i}].model_name is missing or not a string")
        if isinstance(version, str) and version.lstrip("-").isdigit():
            version = int(version)  # protobuf's JSON form of an int64
        if not isinstance(version, int) or isinstance(version, bool):
            raise _malformed(config, f"ensemble_scheduling.step[{i}].model_version is not an integer")
        key = (name, str(version) if version >= 0 else "")
        if key not in steps:
            steps.append(key)
    return tuple(steps)


def _malformed(config: Mapping[str, Any], what: str) -> ServerError:
    name = escape_controls(str(config.get("name", "?")))[:80]
    return ServerError(f"the config of ensemble '{name}' from the server is malformed: {what}")


def composing_map(config_of: Callable[[str, str], Mapping[str, Any]], model: str, version: str,
                  bls: tuple[ModelId, ...] = ()) -> dict[str, tuple[ModelId, ...]]:
    """model name -> its composing models, for the profiled model and,
    recursively, for composing models that are ensembles themselves.

    config_of(name, version) returns the model's config; it raises a
    PerfAnalyzerError naming the model when the server does not have it."""
    if any(name == model for name, _ in bls):
        raise OptionError(f"--bls-composing-models: '{model}' is the profiled model itself")
    out: dict[str, tuple[ModelId, ...]] = {}
    top = ensemble_steps(config_of(model, version)) + tuple(b for b in bls)
    if top:
        out[model] = tuple(dict.fromkeys(top))
    seen = {model}
    pending = list(out.get(model, ()))
    while pending:
        name, v = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        try:
            steps = ensemble_steps(config_of(name, v))
        except PerfAnalyzerError as e:
            where = (f"--bls-composing-models {name}{':' + v if v else ''}" if (name, v) in bls
                     else f"a step of ensemble '{model}'")
            raise ServerError(f"{where}: {e}") from None
        if steps:
            out[name] = steps
            pending.extend(steps)
    return out


def reaches_sequence_model(config_of: Callable[[str, str], Mapping[str, Any]], model: str, version: str) -> bool:
    """Whether the model, or a model its ensemble steps reach, has
    sequence_batching: then the server wants a correlation ID on every
    request to the ensemble too, as on the sequence model itself."""
    pending: list[ModelId] = [(model, version)]
    seen: set[str] = set()
    while pending:
        name, v = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        config = config_of(name, v)
        if "sequence_batching" in config:
            return True
        pending.extend(ensemble_steps(config))
    return False
