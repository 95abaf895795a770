"""Issue 12's bad-input cases: every script refuses them with exit code 2 and a message that names the
problem (no traceback, never a silent run). The cases table lives in bench/robustness.py, which prints
the same figures. Fault cases with files are tested elsewhere: corrupt/truncated images, kill -9 and
resume, two processes on one folder, full disk and read-only folders in tests/test_generation_reliability.py
and tests/test_reliability_core.py; runs that diverge or are resumed in tests/test_train.py."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("_bench_robustness", ROOT / "bench" / "robustness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                # dataclasses look the module up while it executes
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


@pytest.mark.parametrize("case", BENCH.CASES, ids=lambda c: f"{Path(c.script).stem}:{' '.join(c.argv)}")
def test_bad_input_is_a_clear_error(case, tmp_path):
    outcome = BENCH.run_case(case, tmp_path)
    assert outcome.kind == "clear", (outcome.code, outcome.stderr[-600:])
    assert not any(tmp_path.iterdir()), "a refused command left files behind"


def test_the_papers_boolean_words_still_work_and_a_bare_flag_means_true(capsys):
    from hsi.train.cli import rgb2hs_parser
    ap = rgb2hs_parser("", "no_metamer")
    for words, expected in ((["--resume", "True"], True), (["--resume", "False"], False), (["--resume"], True),
                            (["--resume", "yes"], True), ([], False)):
        assert ap.parse_args(words).resume is expected
    assert ap.parse_args(["--tf32", "False", "--amp"]).tf32 is False
    main = BENCH.load_main(BENCH.OTF)                     # a flag the script adds after the shared ones
    assert main(["--on_the_fly", "--print_run_dir", "True"]) == 0
    assert main(["--on_the_fly", "False", "--print_run_dir"]) == 0
    assert capsys.readouterr().out.count("OnTheFly_metamer_") == 2


def test_debug_shows_the_traceback_of_a_user_error(tmp_path, capsys):
    main = BENCH.load_main("metamer/visualize.py")
    assert main(["--dataset_path", str(tmp_path), "--dataset_name", "SYNTH"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--dataset_path", str(tmp_path), "--dataset_name", "SYNTH", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: ")


def test_help_shows_defaults_and_the_accepted_names(capsys):
    from hsi.camera import CAMERA_NAMES
    from hsi.datasets import DATASETS
    from hsi.models import METHODS
    for script in (BENCH.TRAIN, BENCH.VALID, BENCH.OTF):
        with pytest.raises(SystemExit):
            BENCH.load_main(script)(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: 20)" in text or script == BENCH.VALID
        assert "(default: mst_plus_plus)" in text and all(m in text for m in METHODS)
        assert all(d in text for d in DATASETS) and "double_gauss_50mm_F1.8" in text
        assert all(c in text for c in CAMERA_NAMES)


def test_tags_of_every_driver_and_table_are_accepted():
    from hsi.report.specs import TABLES
    from hsi.train.cli import validation_tag
    tags = [f"{t.key}/{c}" for t in TABLES.values() for c in t.columns]
    tags += ["table4/SYNTH->SYNTH", "finding3/double_gauss_50mm_F1.8", "finding3/my_lens", "finding3_original/none",
             "my_table/anything", "table3/png_npe1000_dg"]
    assert [validation_tag(t) for t in tags] == tags


def test_figures_count_every_case():
    outcomes = [BENCH.Outcome(BENCH.CASES[0], code, err, "", 0.0) for code, err in
                ((2, f"x: error: {BENCH.BOOL_WORDS}"), (0, ""), (1, "Traceback ..."), (2, "other message"))]
    assert BENCH.figures(outcomes) == {"tried": 4, "clear": 1, "silent": 1, "unclear": 2}
