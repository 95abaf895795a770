"""Bad-input cases of the toolkit's scripts (issue 12): each must stop with a clear error, never run silently.

    python ./bench/robustness.py                 # every case, in this process (about a minute on a CPU)
    python ./bench/robustness.py --only validate_RGB2HS.py --verbose

Each case runs one script's ``main(argv)`` in this process on an empty scratch folder: nonsense flag
values (booleans, ranges, nan/inf, choices), unknown names (method, dataset, PSF, camera, tag) and missing
inputs. A case is *clear* when the script exits with code 2 (or the case's code), its message holds the expected fragment and
no traceback is printed; *silent* when it exits 0; *unclear* otherwise (another exit code, a traceback,
or a message without the fragment). Prints the figures (cases tried, clear, silent, unclear). The fault
cases with files (corrupt images, kill -9, two processes, full disk, read-only folders) are tested in
tests/test_generation_reliability.py, tests/test_reliability_core.py and the training tests.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hsi.cli_types import HelpFormatter  # noqa: E402
from hsi.errors import USER_ERROR_EXIT, run_main  # noqa: E402

TRAIN = "RGB2HS/train_RGB2HS_no_metamer.py"
FIXED = "RGB2HS/train_RGB2HS_fixed_metamer.py"
OTF = "RGB2HS/train_RGB2HS_onthefly_metamer.py"
VALID = "RGB2HS/validate_RGB2HS.py"
MSTPP = "MST_plus_plus_code/train_code/train.py"
GEN = "metamer/generate_metamers.py"
BOOL_WORDS = "true, t, 1, on"


@dataclass(frozen=True)
class Case:
    """``script`` (path from the repository root) run with ``argv`` (``{tmp}``: the scratch folder) must
    exit with ``code`` (2: a user error; check_dataset's 1: errors found) and print ``fragment``."""

    script: str
    argv: tuple[str, ...]
    fragment: str
    code: int = USER_ERROR_EXIT


def _c(script: str, argv: str, fragment: str, code: int = USER_ERROR_EXIT) -> Case:
    return Case(script, tuple(argv.split()), fragment, code)


DATA = "--dataset_path {tmp} --dataset_name SYNTH"
CASES: tuple[Case, ...] = (
    # booleans: the paper's --flag True|False stays, other words are refused (point 8)
    _c(TRAIN, "--resume Ture", BOOL_WORDS), _c(TRAIN, "--amp yess", BOOL_WORDS), _c(FIXED, "--wandb 2", BOOL_WORDS),
    _c(OTF, "--on_the_fly Flase", BOOL_WORDS), _c(VALID, "--metamer Ture", BOOL_WORDS),
    _c(VALID, "--save_recon maybe", BOOL_WORDS), _c(MSTPP, "--resume Ture", BOOL_WORDS),
    _c(GEN, "--overwrite nope", BOOL_WORDS), _c("RGB2HS/predict_RGB2HS.py",
                                                  "--rgb_path x --pretrained_root y --self_ensemble Ture", BOOL_WORDS),
    # flag values (point 7)
    _c(TRAIN, "--npe -1", "must be >= 0"), _c(TRAIN, "--npe nan", "not an integer"),
    _c(TRAIN, "--percent 150", "must be <= 100"), _c(TRAIN, "--percent 0", "must be > 0"),
    _c(MSTPP, "--percent 150", "must be <= 100"), _c(TRAIN, "--batch_size -2", "must be >= 1"),
    _c(MSTPP, "--batch_size 0", "must be >= 1"), _c(TRAIN, "--crop_size 0", "must be >= 1"),
    _c(MSTPP, "--patch_size -8", "must be >= 1"), _c(TRAIN, "--stride 0", "must be >= 1"),
    _c(TRAIN, "--log_freq 0", "must be >= 1"), _c(TRAIN, "--save_freq 0", "must be >= 1"),
    _c(TRAIN, "--valid_freq -1", "must be >= 0"), _c(TRAIN, "--per_epoch_iteration 0", "must be >= 1"),
    _c(TRAIN, "--num_epochs 0", "must be >= 1"), _c(MSTPP, "--end_epoch -3", "must be >= 1"),
    _c(TRAIN, "--init_lr 0", "must be > 0"), _c(TRAIN, "--init_lr nan", "not a finite number"),
    _c(MSTPP, "--init_lr=-1e-4", "must be > 0"), _c(TRAIN, "--rgb_format tiff", "invalid choice"),
    _c(VALID, "--rgb_format bmp", "invalid choice"), _c(TRAIN, "--num_workers -1", "must be >= 0"),
    _c(OTF, "--alpha_min 3 --print_run_dir", "--alpha_min 3 must be below --alpha_max 2"),
    _c(OTF, "--alpha_max inf", "not a finite number"), _c(VALID, "--npe -5", "must be >= 0"),
    _c(VALID, "--border -1", "must be >= 0"),
    _c(GEN, "--alpha nan", "not a finite number"), _c(GEN, "--npe inf", "not a finite number"),
    _c(GEN, "--jpeg_quality 0", "must be >= 1"), _c(GEN, "--exposure_target 0", "must be > 0"),
    _c("metamer/ambiguity.py", "--max_scenes 0", "must be >= 1"),
    _c("scripts/demo.py", "--npe -1", "must be >= 0"),
    # unknown names and tags (point 14)
    _c(VALID, "--tag table5/metamr", "table5/<original|metamer>"), _c(VALID, "--tag table5", "'<table>/<column>'"),
    _c(VALID, "--tag table6_7/no_clean", "table6_7/<"),
    _c(TRAIN, f"{DATA} --method mst_plus_plus_plus --result_root {{tmp}}/runs", "valid methods"),
    _c(TRAIN, "--dataset_path {tmp} --dataset_name FOO --result_root {tmp}/runs", "known datasets"),
    _c("metamer/ambiguity.py", "--dataset_path {tmp} --dataset_name FOO", "known datasets"),
    _c(GEN, "--dataset_path {tmp} --dataset_name FOO", "known datasets"),
    _c("bench/model_table.py", "--methods foo --out {tmp}/zoo.md", "valid methods"),
    # missing inputs (points 10, 13)
    _c(VALID, f"{DATA} --pretrained_root {{tmp}}/bestt.pth --result_root {{tmp}}/val", "bestt.pth"),
    _c(TRAIN, f"{DATA} --result_root {{tmp}}/runs", "SYNTH"),
    _c(MSTPP, "--data_root {tmp}/ARAD_1K --outf {tmp}/mstpp", "ARAD_1K"),
    _c("metamer/visualize.py", DATA, "no generated data"),
    _c("scripts/sweep_status.py", "{tmp}/no_results", "no such results folder"),
    _c("RGB2HS/predict_RGB2HS.py", "--rgb_path {tmp}/none.png --pretrained_root {tmp}/w.pth --out_dir {tmp}/p",
       "no such file"),
    _c("dataset_tools/check_dataset.py", "{tmp}/no_dataset", "no_dataset: folder not found", code=1),
    _c("dataset_tools/prepare_CAVE.py", "--dataset_root {tmp}/raw --dest_root {tmp}/CAVE", "raw"),
)


@dataclass
class Outcome:
    case: Case
    code: int
    stderr: str
    stdout: str
    seconds: float

    @property
    def kind(self) -> str:
        """``clear``, ``silent`` or ``unclear`` (see the module docstring)."""
        if self.code == 0:
            return "silent"
        text = self.stderr + self.stdout
        ok = self.code == self.case.code and self.case.fragment in text and "Traceback" not in self.stderr
        return "clear" if ok else "unclear"


def load_main(script: str):
    """The ``main`` of a script file (path from the repository root), imported under a private name."""
    path = ROOT / script
    spec = importlib.util.spec_from_file_location(f"_robustness_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if script.startswith("dataset_tools/prepare_"):
        from hsi.convert import converter_cli
        return lambda argv: converter_cli(path.stem.split("_", 1)[1], argv)
    return module.main


def run_case(case: Case, tmp: Path) -> Outcome:
    """Run one case in this process, capturing stderr (argparse's exits become the exit code)."""
    argv = [a.replace("{tmp}", str(tmp)) for a in case.argv]
    err, out = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = load_main(case.script)(argv + ["--no_progress"] if _takes_no_progress(case.script) else argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:                                     # a bug: the traceback is the finding
            import traceback
            traceback.print_exc()
            code = 1
    return Outcome(case, int(code or 0), err.getvalue(), out.getvalue(), time.perf_counter() - t0)


def _takes_no_progress(script: str) -> bool:
    return script in (GEN, "dataset_tools/check_dataset.py", "RGB2HS/predict_RGB2HS.py")


def run_cases(cases=CASES, log=None) -> list[Outcome]:
    """Every case on a fresh empty scratch folder each."""
    outcomes = []
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="hsi-robust-") as tmp:
            outcomes.append(run_case(case, Path(tmp)))
        if log:
            log(outcomes[-1])
    return outcomes


def figures(outcomes: list[Outcome]) -> dict[str, int]:
    """``{"tried", "clear", "silent", "unclear"}`` counts."""
    kinds = [o.kind for o in outcomes]
    return {"tried": len(kinds), **{k: kinds.count(k) for k in ("clear", "silent", "unclear")}}


def _bench(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--only", default=None, help="only the cases of scripts whose path contains this text")
    ap.add_argument("--verbose", action="store_true", help="print every case's last stderr line")
    args = ap.parse_args(argv)
    cases = [c for c in CASES if args.only is None or args.only in c.script]

    def log(o: Outcome) -> None:
        if args.verbose or o.kind != "clear":
            last = (o.stderr.strip().splitlines() or [""])[-1][:160]
            print(f"{o.kind:8s} exit {o.code} {o.seconds:5.1f} s  {o.case.script} {' '.join(o.case.argv)}\n"
                  f"         {last}", flush=True)

    t0 = time.perf_counter()
    outcomes = run_cases(cases, log)
    f = figures(outcomes)
    print(f"[robustness] {f['tried']} case(s) tried: {f['clear']} clear error(s), {f['silent']} silent, "
          f"{f['unclear']} unclear, in {time.perf_counter() - t0:.1f} s")
    return 0 if f["clear"] == f["tried"] else 1


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_bench, argv)


if __name__ == "__main__":
    raise SystemExit(main())
