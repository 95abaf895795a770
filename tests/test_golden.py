"""The architecture redesign changed no output: generation, training and validation as recorded before it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import golden

RECORD = Path(__file__).parent / "data" / "golden_before_redesign.json"


@pytest.mark.slow
def test_outputs_equal_the_record_made_before_the_redesign(tmp_path):
    golden.produce(tmp_path)
    diffs = golden.compare(json.loads(RECORD.read_text()), golden.fingerprint(tmp_path))
    assert not diffs, "\n".join(diffs[:20])


def test_compare_names_every_difference():
    before = {"a.png": "1", "b.mat": "2", "s/summary.json": {"summary": {"MRAE": 1.0}}}
    after = {"a.png": "1", "b.mat": "3", "c.pth": "4", "s/summary.json": {"summary": {"MRAE": 1.0}}}
    diffs = golden.compare(before, after)
    assert len(diffs) == 2 and any("b.mat" in d for d in diffs) and any("c.pth" in d for d in diffs)


def test_keys_and_columns_added_later_are_not_differences_but_changed_values_are():
    before = {"r/summary.json": {"summary": {"MRAE": 1.0}}, "r/per_image.csv": "name,MRAE\ns1,1.5\n"}
    added = {"r/summary.json": {"summary": {"MRAE": 1.0, "MRAE_truth_above_0.01": 0.3}, "pair_bound": {}},
             "r/per_image.csv": "name,MRAE,extra\ns1,1.5,7\n"}
    assert golden.compare(before, added) == []
    changed = {"r/summary.json": {"summary": {"MRAE": 1.1}}, "r/per_image.csv": "name,MRAE,extra\ns1,1.6,7\n"}
    assert len(golden.compare(before, changed)) == 2
