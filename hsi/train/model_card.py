"""A short ``model_card.md`` beside every finished training run (and ``model_card.json``, its facts).

The card says what the checkpoint is: method, data, rendering settings of its RGB input, iterations and
recipe, the validation metrics seen during training and, once known (:func:`add_validation`), the metrics
of validations on the originals and on the metamers with the paired lower bound of the metamer data
(``ValidationRecord.pair_bound``: no RGB-only method can be below it on both).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from hsi.io import atomic_write_json, atomic_write_text
from hsi.metrics import METRIC_NAMES

CARD_MD = "model_card.md"
CARD_JSON = "model_card.json"
_RENDER_KEYS = ("dataset_name", "psf_name", "noise_type", "npe", "rgb_format", "srf_name", "data_join", "percent")
_ONTHEFLY_KEYS = ("on_the_fly", "metamer_mode", "alpha_min", "alpha_max")
"""Rendering settings of the on-the-fly trainer only (shown for ``mode == "onthefly"``)."""
_RECIPE_KEYS = ("loss_func", "batch_size", "crop_size", "patch_size", "stride", "init_lr", "seed")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _metrics_row(name: str, metrics: Mapping | None) -> str:
    cells = [_fmt(metrics[m]) if metrics and m in metrics else "-" for m in METRIC_NAMES]
    return f"| {name} | " + " | ".join(cells) + " |"


def card_facts(cfg, result: Mapping) -> dict:
    """The card's facts from a run's ``TrainConfig`` and its summary (``hsi.train.engine.train``'s result)."""
    from hsi.models import get_spec
    args = dict(cfg.extra.get("args") or {})
    flat = {k.split(".")[-1]: v for k, v in args.items()}  # nested options are flattened as ``engine.x``
    return {"method": cfg.method, "label": get_spec(cfg.method).label, "mode": cfg.extra.get("mode"),
            "data_dir": cfg.extra.get("data_dir") or flat.get("data_root"),
            "train_scenes": len(cfg.extra.get("train_scenes") or []),
            "valid_scenes": len(cfg.extra.get("valid_scenes") or []),
            "rendering": {k: flat[k] for k in _RENDER_KEYS + (_ONTHEFLY_KEYS if cfg.extra.get("mode") == "onthefly"
                                                               else ()) if k in flat and flat[k] is not None},
            "recipe": {k: flat[k] for k in _RECIPE_KEYS if k in flat},
            "iterations": result.get("iterations"), "seconds": result.get("seconds"),
            "training_validation": result.get("final_valid"), "validations": {}}


def render_card(facts: Mapping) -> str:
    """The Markdown text of a card."""
    lines = [f"# Model card: {facts['label']} (`{facts['method']}`)", "",
             f"- training mode: {facts.get('mode')}; {facts.get('iterations')} iterations in "
             f"{_fmt(facts.get('seconds'))} s",
             f"- data: {facts.get('data_dir')} ({facts.get('train_scenes')} training, "
             f"{facts.get('valid_scenes')} validation scenes)",
             "- rendering of the RGB input: " + ", ".join(f"{k} {v}" for k, v in facts["rendering"].items()),
             "- recipe: " + ", ".join(f"{k} {v}" for k, v in facts["recipe"].items()), "",
             "| validation | " + " | ".join(METRIC_NAMES) + " |", "|---|" + "---:|" * len(METRIC_NAMES),
             _metrics_row("during training (valid scenes)", facts.get("training_validation"))]
    bound = None
    for kind, rec in sorted(facts.get("validations", {}).items()):
        lines.append(_metrics_row(kind, rec.get("summary")))
        bound = rec.get("pair_bound") or bound
    if bound:
        lines.append(_metrics_row("paired lower bound (max of both)", bound))
    if not facts.get("validations"):
        lines.append("")
        lines.append("Validations on the originals and on the metamers: not run yet (RGB2HS/validate_RGB2HS.py).")
    return "\n".join(lines) + "\n"


def write_card(run_dir: str | Path, facts: Mapping) -> Path:
    """Write ``model_card.json`` and ``model_card.md`` in ``run_dir`` atomically; returns the ``.md`` path."""
    run_dir = Path(run_dir)
    atomic_write_json(run_dir / CARD_JSON, dict(facts))
    atomic_write_text(run_dir / CARD_MD, render_card(facts))
    return run_dir / CARD_MD


def with_model_card(cfg, result: dict) -> dict:
    """After ``train(cfg, ...)``: write the card of a finished run (kept validations stay); returns ``result``."""
    if not result.get("finished"):
        return result
    out = Path(cfg.out_dir)
    facts = card_facts(cfg, result)
    try:
        facts["validations"] = json.loads((out / CARD_JSON).read_text()).get("validations", {})
    except (OSError, ValueError):
        pass
    write_card(out, facts)
    return result


def add_validation(run_dir: str | Path, kind: str, record: Mapping) -> Path:
    """Add a validation record (``run_validation``'s dict: ``summary``, ``pair_bound``) to a run's card as
    row ``kind`` (e.g. ``originals``, ``metamers``); ``FileNotFoundError`` if the run has no card."""
    run_dir = Path(run_dir)
    facts = json.loads((run_dir / CARD_JSON).read_text())
    facts.setdefault("validations", {})[kind] = {"summary": dict(record.get("summary") or {}),
                                                 "pair_bound": record.get("pair_bound"),
                                                 "data_dir": record.get("data_dir")}
    return write_card(run_dir, facts)
