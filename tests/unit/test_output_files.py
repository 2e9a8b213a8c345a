"""Output files: regular files replaced atomically, links written through,
FIFOs and devices written in place (never replaced), and every output path
checked before the server is contacted."""

from __future__ import annotations

import os
import stat
import sys
import threading

import pytest
from perfanalyzer import cli, output_files
from perfanalyzer.errors import OPTION_ERROR, OptionError


def test_regular_file_is_replaced_and_keeps_its_mode(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    output_files.write_text(str(path), "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


def test_symlink_is_written_through(tmp_path):
    target = tmp_path / "results" / "real.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    output_files.write_text(str(link), "rows\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "rows\n"


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "new.csv")
    output_files.write_text(str(link), "rows\n")
    assert link.is_symlink()
    assert (tmp_path / "new.csv").read_text() == "rows\n"


def test_fifo_is_written_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    output_files.write_text(str(fifo), "a,b\n1,2\n")
    reader.join(timeout=10)
    assert got == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_device_node_is_written_in_place(tmp_path):
    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    output_files.write_text(str(node), "rows\n")
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    output_files.check("-f", str(node))


def test_check_refuses_a_missing_directory(tmp_path):
    with pytest.raises(OptionError, match=r"^-f .*/nowhere/out.csv: directory .*/nowhere does not exist$"):
        output_files.check("-f", str(tmp_path / "nowhere" / "out.csv"))


def test_check_refuses_a_directory(tmp_path):
    with pytest.raises(OptionError, match="--html-report .*: is a directory"):
        output_files.check("--html-report", str(tmp_path))


def test_check_refuses_an_existing_export_but_not_a_stream(tmp_path):
    existing = tmp_path / "export.json"
    existing.write_text("{}")
    with pytest.raises(OptionError, match="the file already exists"):
        output_files.check("--profile-export-file", str(existing), must_not_exist=True)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    output_files.check("--profile-export-file", str(fifo), must_not_exist=True)


def unwritable_directory() -> str:
    """/sys refuses new files even to root."""
    try:
        output_files.check("-f", "/sys/perfanalyzer-probe.csv")
    except OptionError:
        return "/sys"
    pytest.skip("/sys accepts files here")


def test_check_refuses_a_directory_it_cannot_write():
    d = unwritable_directory()
    with pytest.raises(OptionError, match=f"^-f {d}/out.csv: cannot write in directory {d}: "):
        output_files.check("-f", f"{d}/out.csv")


@pytest.mark.parametrize("flag", ["-f", "--profile-export-file", "--html-report", "--json"])
def test_unwritable_output_exits_3_before_contacting_the_server(flag, capsys):
    d = unwritable_directory()
    # Nothing listens on port 9: a run that got as far as the server would exit 99.
    code = cli.main(["-m", "m", "-u", "127.0.0.1:9", flag, f"{d}/out"])
    err = capsys.readouterr().err
    assert code == OPTION_ERROR, err
    assert err.startswith(f"error: {flag} {d}/out: cannot write in directory") and err.count("\n") == 1


def test_html_report_without_matplotlib_is_refused_before_the_load(tmp_path, monkeypatch):
    from perfanalyzer import preflight

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an environment without it imports
    settings = cli.parse_args(["-m", "m", "--html-report", str(tmp_path / "r.html")])
    with pytest.raises(OptionError, match=r"^--html-report: the report's plot needs matplotlib"):
        preflight.check(settings)
    preflight.check(cli.parse_args(["-m", "m", "-f", str(tmp_path / "out.csv")]))  # no report: no need


def test_html_report_without_matplotlib_exits_3_before_contacting_the_server(tmp_path, monkeypatch, capsys):
    """The run itself refuses it up front: nothing listens on port 9, so a run
    that got as far as the server (and measured) would exit 99."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = cli.main(["-m", "m", "-u", "127.0.0.1:9", "--html-report", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == OPTION_ERROR, err
    assert err == "error: --html-report: the report's plot needs matplotlib: pip install 'perfanalyzer[plot]'\n"
    assert not (tmp_path / "r.html").exists()
