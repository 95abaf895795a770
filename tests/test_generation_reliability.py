"""Reliability of metamer generation (issue 12): one process per folder, resume after kill -9, source
fingerprints, damaged outputs, read-only no-op runs, full disk, checked flags and cube values, user
errors of the dataset scripts. Real processes where the point is about processes (lock, kill -9)."""
from __future__ import annotations

import errno
import importlib.util
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hsi.convert import check_dataset, convert_dataset, cube_value_problem
from hsi.errors import ToolkitError
from hsi.io import read_mat_cube, read_rgb_raw, write_mat_cube
from hsi.io.integrity import check_files
from hsi.metamer_data import GenerateOptions, MetamerDataError, generate_metamer_dataset, plan_generation
from hsi.synthetic import SynthConfig, build_synth_dataset

ROOT = Path(__file__).resolve().parents[1]
GENERATE = ROOT / "metamer" / "generate_metamers.py"
SCENES = ["SYNTH_0001", "SYNTH_0002", "SYNTH_0003", "SYNTH_0004"]       # train list (sorted), then valid
# runs generate_metamers.py with every RGB write followed by a pause (argv[1] seconds): a long run to
# lock, kill or race, without test hooks in the library
SLOW_WRITER = """
import runpy, sys, time
import hsi.io
real, pause = hsi.io.write_rgb, float(sys.argv[1])
def slow(*args, **kwargs):
    out = real(*args, **kwargs)
    time.sleep(pause)
    return out
hsi.io.write_rgb = slow
sys.argv = [sys.argv[2]] + sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("rel") / "SYNTH"
    build_synth_dataset(root, SynthConfig(num_scenes=4, size=(40, 48), seed=1, valid_fraction=0.25), progress=False)
    return root


@pytest.fixture
def root(synth, tmp_path):
    shutil.copytree(synth, tmp_path / "SYNTH")
    return tmp_path


def _opts(root, **kw) -> GenerateOptions:
    kw.setdefault("device", "cpu")
    return GenerateOptions(dataset_path=str(root), dataset_name="SYNTH", **kw)


def _gen(root, logs=None, **kw) -> dict:
    return generate_metamer_dataset(_opts(root, **kw), progress=False,
                                    log=(logs.append if logs is not None else lambda m: None))


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def _cli_args(root, *extra) -> list[str]:
    return ["--dataset_path", str(root), "--dataset_name", "SYNTH", "--device", "cpu", "--no_progress", *extra]


def _start_slow(tmp_path, root, pause: float, *extra) -> subprocess.Popen:
    script = tmp_path / "slow_writer.py"
    script.write_text(SLOW_WRITER)
    return subprocess.Popen([sys.executable, str(script), str(pause), str(GENERATE), *_cli_args(root, *extra)],
                            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"the generation ended early (rc {proc.returncode}): {proc.stderr.read()[-2000:]}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError("timed out waiting for the generation")
        time.sleep(0.05)


def _files(out: Path) -> dict[str, bytes]:
    """Image bytes and cube values (a .mat header holds its creation time) of a generated folder."""
    return {str(p.relative_to(out)): read_mat_cube(p).cube.tobytes() if p.suffix == ".mat" else p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file() and p.parent != out}


def _stats(manifest: dict) -> dict:
    return {s: {k: v for k, v in st.items() if k != "seconds"} for s, st in manifest["scenes"].items()}


# ------------------------------------------------------------------------------------ 1. one process per folder
def test_a_second_process_on_the_folder_stops_at_once_naming_the_holder(root, tmp_path):
    out = root / "SYNTH" / "poisson0_None"
    first = _start_slow(tmp_path, root, 3.0, "--alpha", "0")
    try:
        _wait_for(lambda: (out / ".hsi.lock.json").is_file(), first)
        second = subprocess.run([sys.executable, str(GENERATE), *_cli_args(root, "--alpha", "1")], cwd=ROOT,
                                env=_env(), capture_output=True, text=True, timeout=300)
        assert first.poll() is None                                  # the second did not wait for the first
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2 and "Traceback" not in second.stderr
    err = second.stderr.strip().splitlines()[-1]
    assert err.startswith("error: ") and f"process {first.pid}" in err and socket.gethostname() in err
    man = json.loads((out / "manifest.json").read_text())
    assert man["settings"]["alpha"] == 0.0 and man["complete"] is False     # nothing of the second run


# ------------------------------------------------------------------------------------ 4. kill -9 resumes
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_kill_after_the_first_scene_resumes_to_the_files_of_an_uninterrupted_run(root, tmp_path, sig):
    out = root / "SYNTH" / "poisson0_None"
    first_scene = [out / "Train_Metamer_Spec" / f"{SCENES[0]}_metamer.mat",
                   out / "Train_Metamer_RGB" / f"{SCENES[0]}_original.png",
                   out / "Train_Metamer_RGB" / f"{SCENES[0]}_metamer.png"]
    proc = _start_slow(tmp_path, root, 1.5)
    _wait_for(lambda: all(p.is_file() for p in first_scene), proc)
    os.kill(proc.pid, sig)
    proc.wait()
    man = json.loads((out / "manifest.json").read_text())          # written before the first scene
    assert man["complete"] is False and man["settings"]["alpha"] == 0.0
    stale = out / "Train_Metamer_RGB" / f".{SCENES[1]}_original.tmp-k1lled.png"
    stale.write_bytes(b"\x89PNG half of an image")                   # what a killed write leaves
    logs = []
    resumed = _gen(root, logs)
    assert resumed["complete"] and list(resumed["scenes"]) == SCENES and list(resumed["sources"]) == SCENES
    assert not stale.exists() and not list(out.rglob(".*.tmp-*")) and any("temporary file" in m for m in logs)
    reference = _gen(root, out_name="reference")
    assert _stats(resumed) == _stats(reference)
    assert _files(out) == _files(root / "SYNTH" / "reference")


# ------------------------------------------------------------------------------------ 5. fingerprints, damage
def test_a_changed_source_is_regenerated_and_logged_not_nothing_to_do(root):
    out = root / "SYNTH" / "poisson0_None"
    first = _gen(root)
    assert set(first["sources"]) == set(SCENES)
    assert all(len(first["sources"][s]["sha256"]) == 64 and first["sources"][s]["size"] > 0 for s in SCENES)
    src = root / "SYNTH" / "Train_Spec" / f"{SCENES[1]}.mat"
    write_mat_cube(src, read_mat_cube(src).cube[:, ::-1].copy())     # e.g. make_synthetic --seed 7 --overwrite
    png = out / "Train_Metamer_RGB" / f"{SCENES[1]}_original.png"
    before = png.read_bytes()
    logs = []
    man = _gen(root, logs)
    assert man["generated"] == 1 and man["complete"] and png.read_bytes() != before
    assert any(SCENES[1] in m and "source cube changed" in m for m in logs)
    fresh = _gen(root, out_name="fresh")
    assert png.read_bytes() == (root / "SYNTH" / "fresh" / "Train_Metamer_RGB" / png.name).read_bytes()
    # same content, new mtime (a copy, a touch): not regenerated; the new mtime is recorded
    other = root / "SYNTH" / "Train_Spec" / f"{SCENES[2]}.mat"
    os.utime(other, ns=(other.stat().st_atime_ns, other.stat().st_mtime_ns + 10**9))
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    man = _gen(root)
    assert man["generated"] == 0 and {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == mtimes
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["sources"][SCENES[2]]["mtime_ns"] == other.stat().st_mtime_ns
    assert on_disk["sources"][SCENES[2]]["sha256"] == fresh["sources"][SCENES[2]]["sha256"]


def test_truncated_outputs_in_a_complete_folder_are_detected_and_regenerated(root):
    out = root / "SYNTH" / "poisson0_None"
    _gen(root)
    whole = _files(out)
    png = out / "Train_Metamer_RGB" / f"{SCENES[0]}_metamer.png"
    mat = out / "Train_Metamer_Spec" / f"{SCENES[3]}_metamer.mat"
    for p in (png, mat):
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    logs = []
    man = _gen(root, logs)
    assert man["generated"] == 2 and man["complete"] and sum("damaged output" in m for m in logs) == 2
    assert check_files([p for p in out.rglob("*") if p.suffix in (".png", ".mat")]) == 12
    assert _files(out) == whole


def test_a_folder_made_before_fingerprints_is_adopted_unless_its_source_is_newer(root):
    out = root / "SYNTH" / "poisson0_None"
    _gen(root)
    man = json.loads((out / "manifest.json").read_text())
    del man["sources"]                                               # as written by the code before
    (out / "manifest.json").write_text(json.dumps(man))
    src = root / "SYNTH" / "Train_Spec" / f"{SCENES[0]}.mat"
    write_mat_cube(src, read_mat_cube(src).cube * 0.5)               # changed after its outputs
    logs = []
    again = _gen(root, logs)
    assert again["generated"] == 1 and set(again["sources"]) == set(SCENES)
    assert any(SCENES[0] in m and "newer than its outputs" in m for m in logs)


# ------------------------------------------------------------------------------------ 11 and 15. no-op, full disk
def test_a_run_with_nothing_to_do_writes_nothing_and_keeps_the_real_runs_timing(root, monkeypatch):
    out = root / "SYNTH" / "poisson0_None"
    first = _gen(root)
    snapshot = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.rglob("*")}
    text = (out / "manifest.json").read_text()

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr("hsi.io.lock.output_lock", refuse)          # a read-only folder: no lock, no write
    monkeypatch.setattr("hsi.io.atomic_write_json", refuse)
    man = _gen(root)
    assert man["generated"] == 0 and man["skipped"] == 4 and man["complete"]
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.rglob("*")} == snapshot
    assert (out / "manifest.json").read_text() == text
    on_disk = json.loads(text)
    assert on_disk["scenes_per_s"] == first["scenes_per_s"] > 0 and on_disk["generated"] == 4


def test_a_full_disk_names_the_file_and_leaves_nothing_partial(root, monkeypatch):
    import hsi.io
    from hsi.io import atomic_path
    out = root / "SYNTH" / "poisson0_None"
    real, calls = hsi.io.write_rgb, []

    def full_disk(path, rgb, jpeg_quality=65):
        calls.append(path)
        if Path(path).name.startswith(SCENES[1]):
            with atomic_path(path) as tmp:
                tmp.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))   # part of the image, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, rgb, jpeg_quality=jpeg_quality)
    monkeypatch.setattr(hsi.io, "write_rgb", full_disk)
    with pytest.raises(MetamerDataError, match=rf"disk is full.*") as info:
        _gen(root)
    assert f"{SCENES[1]}_" in str(info.value) and ".png" in str(info.value)
    assert not list(out.rglob(".*.tmp-*"))
    pngs = list(out.rglob("*.png"))
    assert pngs and check_files(pngs) == len(pngs)                   # whatever has a final name is whole
    man = json.loads((out / "manifest.json").read_text())
    assert not man["complete"] and SCENES[1] not in man["scenes"] and SCENES[0] in man["scenes"]
    monkeypatch.setattr(hsi.io, "write_rgb", real)
    assert _gen(root)["complete"]


def test_a_writer_failing_without_an_errno_on_an_almost_full_disk_says_the_disk_is_full(root, monkeypatch):
    import collections
    import hsi.io
    from hsi.io import RGBFileError

    def opencv_fails(path, rgb, jpeg_quality=65):
        raise RGBFileError(f"{path}: OpenCV could not write the image")
    monkeypatch.setattr(hsi.io, "write_rgb", opencv_fails)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: collections.namedtuple("u", "total used free")(10, 10, 0))
    with pytest.raises(MetamerDataError, match=r"_original\.png: cannot be written: the disk is full"):
        _gen(root)


# ------------------------------------------------------------------------------------ 7. flags
@pytest.mark.parametrize("flag, value", [
    ("--alpha", "nan"), ("--alpha", "inf"), ("--npe", "-1"), ("--npe", "nan"), ("--npe", "inf"),
    ("--exposure_target", "0"), ("--exposure_target", "1.5"), ("--exposure_target", "nan"),
    ("--jpeg_quality", "0"), ("--jpeg_quality", "101"), ("--rgb_format", "tiff"), ("--overwrite", "Ture"),
    ("--limit", "0"),
])
def test_bad_flag_values_are_refused_by_the_parser_in_one_line(root, capsys, flag, value):
    mod = _load(GENERATE, "generate_metamers")
    with pytest.raises(SystemExit) as info:
        mod.main(_cli_args(root, flag, value))
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("generate_metamers.py: error: argument " + flag)
    assert not (root / "SYNTH" / "poisson0_None").exists()


def test_library_options_are_checked_and_exposure_zero_is_not_the_default(root):
    for bad in (dict(exposure_target=0.0), dict(exposure_target=1.2), dict(alpha=math.nan), dict(npe=-1),
                dict(npe=math.inf), dict(jpeg_quality=0), dict(cube_values="maybe")):
        with pytest.raises(MetamerDataError, match=next(iter(bad))):
            plan_generation(_opts(root, **bad))
    assert plan_generation(_opts(root, exposure_target=0.3)).render_config.exposure_target == 0.3
    assert plan_generation(_opts(root)).render_config.exposure_target == 0.18


def test_help_shows_defaults_and_accepted_names(capsys):
    from hsi.camera import CAMERA_NAMES
    from hsi.datasets import DATASETS
    from hsi.optics import list_psfs
    mod = _load(GENERATE, "generate_metamers")
    with pytest.raises(SystemExit):
        mod.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--alpha", "--npe", "--jpeg_quality", "--rgb_format", "--noise_seed", "--psf_path"):
        assert flag in text
    assert text.count("(default: ") >= 20
    assert all(n in text for n in DATASETS) and all(c in text for c in CAMERA_NAMES)
    psfs = list_psfs(ROOT / "PSFs")
    assert psfs and all(p in text for p in psfs)


# ------------------------------------------------------------------------------------ 9. cube values
@pytest.mark.parametrize("kind, fix", [("negative", "negative"), ("counts", "divide by 4095"), ("zeros", "zero"),
                                       ("nan", "NaN")])
def test_bad_cube_values_are_refused_naming_the_file_and_the_fix(root, capsys, kind, fix):
    src = root / "SYNTH" / "Train_Spec" / f"{SCENES[0]}.mat"
    cube = read_mat_cube(src).cube
    bad = {"negative": cube - 0.2, "counts": np.round(cube * 4095), "zeros": np.zeros_like(cube),
           "nan": np.where(np.arange(cube.size).reshape(cube.shape) == 7, np.nan, cube)}[kind]
    write_mat_cube(src, bad.astype(np.float32))
    with pytest.raises(MetamerDataError, match=fix) as info:
        _gen(root)
    assert str(src) in str(info.value) and ("prepare_" in str(info.value) or "clip" in str(info.value))
    rc = _load(GENERATE, "generate_metamers").main(_cli_args(root))
    err = capsys.readouterr().err
    assert rc == 2 and f"error: {src}" in err and "Traceback" not in err
    if kind != "nan":                                                 # the paper's behaviour, one flag away
        assert _gen(root, cube_values="warn")["complete"]


def test_cube_value_problem_is_the_converters_check():
    ok = np.full((31, 4, 4), 0.5, np.float32)
    assert cube_value_problem(ok) is None and cube_value_problem(ok * 1.0005) is None
    assert "65535" in cube_value_problem(ok * 60000) and "255" in cube_value_problem(ok * 200)
    assert cube_value_problem(ok * 0, zero_check=False) is None
    assert cube_value_problem(ok * 9, range_check=False) is None
    assert "NaN" in cube_value_problem(np.where(ok > 0, np.inf, ok), range_check=False, zero_check=False)


def test_check_dataset_checks_the_generated_folders(root):
    out = root / "SYNTH" / "poisson0_None"
    _gen(root)
    rep = check_dataset(root / "SYNTH", progress=False)
    assert rep.ok, rep.errors
    assert rep.generated["poisson0_None"] == {"metamer_spec": 4, "rgb": 8, "bad_files": 0, "complete": True}
    for p in (out / "Train_Metamer_Spec").glob("*.mat"):              # an all-zero folder
        write_mat_cube(p, np.zeros_like(read_mat_cube(p).cube))
    png = out / "Train_Metamer_RGB" / f"{SCENES[2]}_original.png"
    png.write_bytes(png.read_bytes()[:-20])
    rep = check_dataset(root / "SYNTH", progress=False)
    assert not rep.ok and sum("all values are zero" in e for e in rep.errors) == 4
    assert any(png.name in e and "truncated PNG" in e for e in rep.errors)
    quick = check_dataset(root / "SYNTH", quick=True, progress=False)
    assert any("truncated PNG" in e for e in quick.errors) and not any("zero" in e for e in quick.errors)
    (out / "manifest.json").unlink()
    assert any("no manifest.json" in w for w in check_dataset(root / "SYNTH", progress=False).warnings)


# ------------------------------------------------------------------------------------ 13. user errors
@pytest.mark.parametrize("cls", ["hsi.metamer_data.MetamerDataError", "hsi.convert.RawFileError",
                                 "hsi.io.SpectralFileError", "hsi.io.RGBFileError", "hsi.datasets.SplitListError",
                                 "hsi.synthetic.SynthSettingsError", "hsi.camera.CameraError", "hsi.optics.PSFError",
                                 "hsi.optics.PSFNotFoundError", "hsi.convert.RawDatasetNotFoundError"])
def test_error_classes_are_toolkit_errors_and_keep_their_base(cls):
    module, name = cls.rsplit(".", 1)
    error = getattr(importlib.import_module(module), name)
    assert issubclass(error, ToolkitError) and issubclass(error, (ValueError, FileNotFoundError))


def test_dataset_scripts_print_one_error_line_and_exit_2(root, tmp_path, capsys):
    from hsi.convert import converter_cli
    cases = [
        (lambda: converter_cli("CAVE", ["--dataset_root", str(tmp_path / "nope"), "--dest_root", str(tmp_path / "C")]),
         "raw dataset folder"),
        (lambda: _load(ROOT / "dataset_tools" / "make_synthetic.py", "ms").main(
            ["--num_scenes", "1", "--dest_root", str(tmp_path / "S")]), "num_scenes"),
        (lambda: _load(ROOT / "dataset_tools" / "check_dataset.py", "cd").main(
            [str(root / "SYNTH"), "--dataset_name", "NOPE", "--no_progress"]), "known datasets"),
        (lambda: _load(GENERATE, "gm").main(_cli_args(root, "--srf_path", "no_camera")), "unknown camera"),
    ]
    for run, words in cases:
        assert run() == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and words in err[0]


def test_converters_remove_the_temporary_files_of_a_killed_conversion(tmp_path):
    raw, dest = tmp_path / "raw", tmp_path / "KAUST"
    raw.mkdir()
    (raw / "broken.mat").write_bytes(b"not a mat file")
    stale = dest / "Train_Spec" / ".scene.tmp-x1y2.mat"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\x00" * 1000)
    keep = dest / "poisson0_None" / "Train_Metamer_RGB" / ".a.tmp-zz.png"   # another tool's folder: not touched
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"x")
    warnings = []
    rep = convert_dataset("KAUST", raw, dest, skip_bad=True, progress=False, warn=warnings.append)
    assert not stale.exists() and keep.exists() and len(rep.bad) == 1
    assert any(str(stale) in w for w in warnings)


def test_check_dataset_names_a_truncated_dataset_jpeg(tmp_path):
    """Train_RGB/<scene>.jpg cut short reads silently with OpenCV; check_dataset reports it by name."""
    from hsi.convert import check_dataset
    from _tiny_data import make_tiny_dataset
    root = make_tiny_dataset(tmp_path / "d")
    jpg = sorted((root / "SYNTH" / "Train_RGB").glob("*.jpg"))[0]
    jpg.write_bytes(jpg.read_bytes()[: len(jpg.read_bytes()) // 2])
    rep = check_dataset(root / "SYNTH", quick=True, progress=False)
    assert any(jpg.name in e and "truncated JPEG" in e for e in rep.errors)
