"""The documented example type-checks under mypy --strict against the
installed package, and mypy refuses what profile() refuses at run time (the
keyword arguments are typed, not **Any). docs/python-api.md shows the file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "api_example.py"

MISUSE = '''import perfanalyzer
perfanalyzer.profile("m", concurrency="1")
perfanalyzer.profile("m", batch_size="4")
perfanalyzer.profile("m", protocol="HTTP")
perfanalyzer.profile("m", concurency=3)
'''


def _mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    # From a directory without the sources: `perfanalyzer` is the installed package.
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), str(path)],
                          cwd=cache.parent, capture_output=True, text=True, timeout=300)


def test_the_example_passes_mypy_strict_and_misuse_does_not(tmp_path: Path) -> None:
    ok = _mypy(EXAMPLE, tmp_path / "cache")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "misuse.py"
    bad.write_text(MISUSE)
    refused = _mypy(bad, tmp_path / "cache")
    assert refused.returncode == 1
    for line in (2, 3, 4, 5):
        assert f"misuse.py:{line}: error" in refused.stdout, refused.stdout
    assert 'Unexpected keyword argument "concurency"' in refused.stdout


def test_the_docs_show_the_example_file() -> None:
    doc = (ROOT / "docs" / "python-api.md").read_text()
    block = re.search(r"```python\n(.*?)```", doc, re.S)
    assert block is not None and block.group(1) == EXAMPLE.read_text()
