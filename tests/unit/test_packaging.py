"""What a pip user gets besides the code (as installed): the protobuf range, the typing marker, the license."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
STUBS = REPO_ROOT / "python" / "perfanalyzer" / "services" / "tfserving_proto"


def _protobuf_requirement(requirements: list[str], extra: str | None = None) -> Requirement:
    for text in requirements:
        req = Requirement(text)
        if req.name != "protobuf":
            continue
        if extra is None or (req.marker is not None and req.marker.evaluate({"extra": extra})):
            return req
    raise AssertionError(f"no protobuf requirement in {requirements}")


def _lower_bound(req: Requirement) -> Version:
    return max(Version(s.version) for s in req.specifier if s.operator in (">=", "=="))


def _ours() -> Requirement:
    return _protobuf_requirement(importlib.metadata.requires("perfanalyzer") or [])


def test_protobuf_range_accepts_every_version_tritonclient_accepts() -> None:
    theirs = _protobuf_requirement(importlib.metadata.requires("tritonclient") or [], extra="grpc")
    ours = _ours()
    floor = _lower_bound(theirs)
    assert ours.specifier.contains(floor), (str(ours), str(theirs))
    assert _lower_bound(ours) <= floor


def test_tfserving_stubs_import_under_the_oldest_protobuf_allowed() -> None:
    # protobuf refuses a generated module whose gencode is newer than the runtime.
    floor = _lower_bound(_ours())
    for stub in sorted(STUBS.glob("*_pb2.py")):
        m = re.search(r"^# Protobuf Python Version: (\S+)$", stub.read_text(), re.M)
        assert m, f"{stub.name}: no gencode version header"
        assert Version(m.group(1)) <= floor, f"{stub.name}: gencode {m.group(1)} > the pin's floor {floor}"


def test_installed_package_is_marked_typed() -> None:
    assert importlib.resources.files("perfanalyzer").joinpath("py.typed").is_file()


def test_license_is_bsd_3_clause() -> None:
    text = (REPO_ROOT / "LICENSE").read_text()
    assert "BSD 3-Clause License" in text and "the perfanalyzer authors" in text
    meta = importlib.metadata.metadata("perfanalyzer")
    assert meta["License"] == "BSD-3-Clause"
    assert "License :: OSI Approved :: BSD License" in meta.get_all("Classifier")
