"""Atomic writes: a failed write leaves the old file intact and no temp file behind."""

import errno
import os

import pytest

from brainseg.cli import main
from brainseg.errors import BrainsegError
from brainseg.fileio import write_text


def test_replaces_atomically(tmp_path):
    target = tmp_path / "a.txt"
    write_text(target, "one")
    write_text(target, "two")
    assert target.read_text() == "two" and os.listdir(tmp_path) == ["a.txt"]


def test_disk_full_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    write_text(target, "precious")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(BrainsegError, match="No space left on device"):
        write_text(target, "new")
    assert target.read_text() == "precious" and os.listdir(tmp_path) == ["a.txt"]


def test_unwritable_output_folder_is_one_clear_line(tmp_path, synth_root, tiny_bundle, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BrainsegError, match="cannot write here"):
        write_text(blocker / "sub" / "a.txt", "x")
    assert main(["train", "--data", str(synth_root), "--out", str(blocker / "run")]) == 1
    assert "cannot create the run folder" in capsys.readouterr().err
    code = main(
        ["predict", str(synth_root), "--out", str(blocker / "out"), "--model", str(tiny_bundle)]
    )
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "cannot write" in err
