"""The output folder is written whole or not at all, and readable like any folder."""

from __future__ import annotations

import os
import stat

import pytest

from sim.store import atomic_folder


def test_atomic_folder_replaces_target_only_on_success(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.csv").write_text("old\n")
    with pytest.raises(KeyboardInterrupt), atomic_folder(target) as staging:
        (staging / "new.csv").write_text("half\n")
        raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["old.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging left behind

    with atomic_folder(target) as staging:
        (staging / "new.csv").write_text("whole\n")
    assert sorted(p.name for p in target.iterdir()) == ["new.csv"]


def test_atomic_folder_takes_the_mode_of_a_plain_mkdir(tmp_path):
    previous = os.umask(0o022)
    try:
        with atomic_folder(tmp_path / "out") as staging:
            (staging / "a.csv").write_text("x\n")
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(previous)
    made = stat.S_IMODE((tmp_path / "out").stat().st_mode)
    assert made == stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o755
