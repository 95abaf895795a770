"""The reliability building blocks: user errors, checked flags, output locks, file integrity checks."""
from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsi import cli_types
from hsi.errors import OptionError, ToolkitError, run_main
from hsi.io import write_mat_cube, write_rgb
from hsi.io.integrity import CorruptFileError, check_files, check_hdf5_file, check_image_file, remove_stale_temp_files
from hsi.io.lock import FolderNotWritableError, OutputLockedError, ensure_writable_dir, output_lock

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ errors
def test_user_error_prints_one_line_and_exits_2(capsys):
    def main(argv):
        raise OptionError("--npe must be >= 0 (got -1)")
    assert run_main(main, []) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: --npe must be >= 0 (got -1)" and "Traceback" not in err


def test_debug_shows_the_traceback_and_is_not_passed_on(capsys):
    seen = []
    def main(argv):
        seen.append(argv)
        raise ToolkitError("bad")
    assert run_main(main, ["--x", "1", "--debug"]) == 2
    assert seen == [["--x", "1"]] and "Traceback" in capsys.readouterr().err


def test_a_bug_keeps_its_traceback():
    def main(argv):
        raise ZeroDivisionError("bug")
    with pytest.raises(ZeroDivisionError):
        run_main(main, [])


# ------------------------------------------------------------------------------------ flags
@pytest.mark.parametrize("word, value", [("True", True), ("yes", True), ("1", True), ("FALSE", False), ("n", False)])
def test_boolean_words(word, value):
    assert cli_types.str2bool(word) is value


@pytest.mark.parametrize("word", ["Ture", "Flase", "2", "", "maybe"])
def test_unknown_boolean_words_are_refused_with_the_accepted_ones(word):
    with pytest.raises(argparse.ArgumentTypeError, match="true.*false"):
        cli_types.str2bool(word)


def test_bool_flag_bare_means_true_and_keeps_the_papers_form():
    ap = argparse.ArgumentParser()
    cli_types.bool_flag(ap, "--resume", False)
    assert ap.parse_args([]).resume is False
    assert ap.parse_args(["--resume"]).resume is True
    assert ap.parse_args(["--resume", "False"]).resume is False
    with pytest.raises(SystemExit):
        ap.parse_args(["--resume", "Ture"])


@pytest.mark.parametrize("parse, bad, good", [
    (cli_types.non_negative_float, ["-1", "nan", "inf", "x"], ["0", "1000"]),
    (cli_types.positive_int, ["0", "-2", "1.5"], ["1", "20"]),
    (cli_types.unit_interval, ["0", "1.01", "nan"], ["1", "0.18"]),
    (cli_types.percent, ["0", "150"], ["100", "0.5"]),
    (cli_types.int_range(1, 100), ["0", "101"], ["1", "65"]),
    (cli_types.finite_float, ["nan", "-inf"], ["-1", "2"]),
])
def test_checked_numbers(parse, bad, good):
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)
    for text in good:
        parse(text)


# ------------------------------------------------------------------------------------ locks
_HOLDER = """
import sys, time
from hsi.io.lock import output_lock
with output_lock(sys.argv[1], "test job"):
    print("locked", flush=True)
    time.sleep(120)
"""


def _hold(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_process_is_refused_naming_the_holder_and_a_kill_releases(tmp_path):
    proc = _hold(tmp_path / "out")
    try:
        with pytest.raises(OutputLockedError) as info:
            with output_lock(tmp_path / "out", "training"):
                pass
        msg = str(info.value)
        assert f"process {proc.pid}" in msg and socket.gethostname() in msg and "training" in msg
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with output_lock(tmp_path / "out", "training"):             # kill -9 released it
        pass


def test_lock_is_released_on_an_exception(tmp_path):
    with pytest.raises(RuntimeError):
        with output_lock(tmp_path, "job"):
            raise RuntimeError("x")
    with output_lock(tmp_path, "job"):
        pass


def test_unwritable_folder_is_named_before_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(FolderNotWritableError, match="a_file"):
        ensure_writable_dir(blocker / "sub", "validation")
    with pytest.raises(FolderNotWritableError):
        with output_lock(blocker / "sub"):
            pass


# ------------------------------------------------------------------------------------ integrity
def _images(tmp_path):
    img = (np.arange(3 * 16 * 20) % 251).astype(np.uint8).reshape(3, 16, 20)
    return write_rgb(tmp_path / "a.png", img), write_rgb(tmp_path / "a.jpg", img)


def _truncate(path: Path, keep: float = 0.6) -> Path:
    data = path.read_bytes()
    out = path.with_name("cut_" + path.name)
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def test_whole_images_pass_and_truncated_ones_are_named(tmp_path):
    png, jpg = _images(tmp_path)
    assert check_files([png, jpg]) == 2
    for path in (png, jpg):
        cut = _truncate(path)
        with pytest.raises(CorruptFileError, match=cut.name):
            check_image_file(cut)
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    with pytest.raises(CorruptFileError, match="not a PNG"):
        check_image_file(fake)


def test_truncated_hdf5_cube_is_detected(tmp_path):
    path = write_mat_cube(tmp_path / "c.mat", np.random.default_rng(0).random((31, 30, 20), dtype=np.float32))
    check_hdf5_file(path)
    with pytest.raises(CorruptFileError, match="cut_c.mat"):
        check_hdf5_file(_truncate(path, 0.7))


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path):
    (tmp_path / "sub").mkdir()
    stale = [tmp_path / ".x.tmp-abc.mat", tmp_path / "sub" / ".y.tmp-1.png"]
    keep = [tmp_path / "x.mat", tmp_path / "sub" / "y.png"]
    for p in stale + keep:
        p.write_text("")
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)
