"""``ValidationRecord``: the one type of a validation result (a run's ``summary.json``).

The validation writes it (``ValidationRecord.create(...).write(path)``) and the report reads it
(``ValidationRecord.read(path)``); nothing else parses the file. Its JSON object has, in this order:
``name, tag, method, dataset, metamer, summary, images, seconds, checkpoint, args, format, data_dir,
[pair_bound,] created, command, host, git_commit, versions`` plus any further keys (kept in ``extra``).

Optional fields (records without them still read):

* ``summary["MRAE_truth_below_0.01_fraction"]`` and ``summary["MRAE_truth_above_0.01"]``
  (``hsi.metrics.MRAE_BREAKDOWN_KEYS``): mean over images of the share of ground-truth voxels < 0.01 and
  of the MRAE over the other voxels (``hsi.metrics.mrae_breakdown``); the paper's MRAE stays ``MRAE``.
* ``pair_bound`` (validations on metamers; left out of the JSON when None): ``{"RMSE", "SAM", "MRAE":
  floats, "strict": bool, "scenes": int, "strictness": str, ...}``, the paired lower bound of the validated
  scenes (``hsi.pair_bound.pair_bound_of``): no RGB-only method can be below it on both the originals
  and the metamers.

``created`` is the UTC time the run finished, ISO 8601 with microseconds
(``2026-01-31T12:00:00.123456+00:00``); records written with second resolution still read.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from hsi.io import atomic_write_json, provenance
from hsi.metrics import METRIC_NAMES
from hsi.errors import ToolkitError


class RecordError(ToolkitError, ValueError):
    """A JSON object that is not a complete validation record (the message says what is missing)."""


class NotAValidationRecord(RecordError):
    """A JSON object with neither a ``tag`` nor a ``summary``: some other kind of file."""


_JSON_KEYS = ("name", "tag", "method", "dataset", "metamer", "summary", "images", "seconds", "checkpoint", "args",
              "format", "data_dir", "pair_bound", "created", "command", "host", "git_commit", "versions")
_OPTIONAL_KEYS = ("pair_bound",)
"""Keys left out of the JSON when None (records of older writers have none)."""
PAIR_BOUND_METRICS = ("RMSE", "SAM", "MRAE")
"""Metrics with a paired bound (PSNR, a logarithm of a mean, has none)."""
_PROVENANCE_KEYS = ("command", "host", "git_commit", "versions")


def check_tag(tag: str | None) -> None:
    """``RecordError`` unless ``tag`` is None (untagged) or ``"<table>/<column>"`` with both parts non-empty."""
    if tag is not None and (not isinstance(tag, str) or "/" not in tag or not all(tag.split("/", 1))):
        raise RecordError(f"tag must be '<table>/<column>', got {tag!r}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_summary(summary: Any) -> None:
    if not isinstance(summary, Mapping):
        raise RecordError("no 'summary' with the metrics")
    for m in METRIC_NAMES:
        if not _number(summary.get(m)):
            raise RecordError(f"metric {m} missing or not a number ({summary.get(m)!r})")


def _check_pair_bound(bound: Any) -> None:
    if bound is None:
        return
    if not isinstance(bound, Mapping):
        raise RecordError(f"pair_bound must be an object, got {bound!r}")
    for m in PAIR_BOUND_METRICS:
        if not _number(bound.get(m)):
            raise RecordError(f"pair_bound {m} missing or not a number ({bound.get(m)!r})")
    if not isinstance(bound.get("strict"), bool):
        raise RecordError(f"pair_bound strict must be true or false, got {bound.get('strict')!r}")


def parse_created(value: Any) -> _dt.datetime | None:
    """An ISO 8601 time (any sub-second resolution; no zone = UTC) as an aware datetime, None if absent
    or not ISO 8601."""
    if not isinstance(value, str):
        return None
    try:
        t = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


@dataclass(frozen=True)
class ValidationRecord:
    """One validation run's result: mean metrics over the images plus what made them.

    Attributes:
        name: the run folder's name (``hsi.layout.validation_run_name``).
        tag: ``"<table>/<column>"`` placing the run in a report table, None for an untagged run.
        method: the zoo's method name (``hsi.models.METHODS``).
        dataset: validation dataset name.
        metamer: validated on metamer RGB (True) or on the original RGB (False).
        summary: mean over images of MRAE, RMSE (both on [0, 1] data), PSNR (dB), SAM (radians), and any
            further means the evaluation gives (``loss``).
        images: number of validation images; seconds: wall time of the evaluation (s).
        checkpoint: the weights file; args: the validation's options (JSON values);
        format: RGB file format validated (png / jpg); data_dir: the generated variant folder read.
        pair_bound: on metamer data, the paired bound of the validated scenes (see the module docstring), else None.
        created: UTC time the run finished (microsecond resolution; None if the file has none).
        command, host, git_commit, versions: provenance (``hsi.io.provenance``).
        extra: any other keys of the JSON object (written back unchanged).
        path, mtime_ns: the file it was read from and its modification time in ns (set by ``read``;
            not part of the JSON and not compared).
    """

    name: str
    tag: str | None
    method: str
    dataset: str
    metamer: bool
    summary: Mapping[str, float]
    images: int | None = None
    seconds: float | None = None
    checkpoint: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    format: str = "png"
    data_dir: str | None = None
    pair_bound: Mapping[str, Any] | None = None
    created: _dt.datetime | None = None
    command: list[str] = field(default_factory=list)
    host: str | None = None
    git_commit: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    mtime_ns: int | None = field(default=None, compare=False)

    def __post_init__(self):
        check_tag(self.tag)
        _check_summary(self.summary)
        _check_pair_bound(self.pair_bound)
        if not isinstance(self.method, str) or not self.method:
            raise RecordError("no 'method'")
        if self.created is not None and self.created.tzinfo is None:
            raise RecordError(f"created must carry a time zone (UTC), got {self.created!r}")

    # ---------------------------------------------------------------------------- construction
    @staticmethod
    def now() -> _dt.datetime:
        """The current UTC time at full (microsecond) resolution: the ``created`` of a new record."""
        return _dt.datetime.now(_dt.timezone.utc)

    @classmethod
    def create(cls, **fields: Any) -> "ValidationRecord":
        """A new record of a run that just finished: ``fields`` (name, tag, method, dataset, metamer,
        summary, images, seconds, checkpoint, args, format, data_dir, on metamers pair_bound) plus
        ``created = now()`` and the provenance of this process (command line, host, git commit, library versions)."""
        prov = provenance()
        return cls(**fields, created=cls.now(), **{k: prov[k] for k in _PROVENANCE_KEYS})

    # ---------------------------------------------------------------------------- JSON
    def to_json(self) -> dict[str, Any]:
        """The JSON object (a dict of JSON values, keys in the order of the module docstring)."""
        obj = {k: getattr(self, k) for k in _JSON_KEYS}
        obj["summary"] = dict(self.summary)
        obj["args"], obj["versions"], obj["command"] = dict(self.args), dict(self.versions), list(self.command)
        obj["created"] = None if self.created is None else self.created.isoformat(timespec="microseconds")
        for k in _OPTIONAL_KEYS:
            if obj[k] is None:
                del obj[k]
            else:
                obj[k] = dict(obj[k])
        return {**obj, **self.extra}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], path: str | os.PathLike | None = None,
                  mtime_ns: int | None = None) -> "ValidationRecord":
        """The record of a ``summary.json`` object; ``RecordError`` naming what is missing or wrong.

        Records of older writers: ``dataset`` / ``format`` missing are taken from ``args``
        (``dataset_name`` / ``rgb_format``), ``name`` from the folder of ``path``; a ``created`` that
        is not ISO 8601 reads as None. ``path`` / ``mtime_ns``: where it was read from (see ``read``)."""
        if "summary" not in obj and "tag" not in obj:
            raise NotAValidationRecord("neither a validation nor a training record")
        check_tag(obj.get("tag"))
        _check_summary(obj.get("summary"))
        args = obj.get("args") if isinstance(obj.get("args"), Mapping) else {}
        path = Path(path) if path is not None else None
        images, seconds = obj.get("images"), obj.get("seconds")
        return cls(
            name=str(obj.get("name") or (path.parent.name if path else "")), tag=obj.get("tag"),
            method=obj.get("method"), dataset=str(obj.get("dataset") or args.get("dataset_name") or "?"),
            metamer=bool(obj.get("metamer")), summary={k: float(v) if _number(v) else v for k, v in obj["summary"].items()},
            images=images if isinstance(images, int) and not isinstance(images, bool) else None,
            seconds=float(seconds) if _number(seconds) else None,
            checkpoint=obj.get("checkpoint") if isinstance(obj.get("checkpoint"), str) else None,
            args=dict(args), format=str(obj.get("format") or args.get("rgb_format") or "png"),
            data_dir=obj.get("data_dir") if isinstance(obj.get("data_dir"), str) else None,
            pair_bound=dict(obj["pair_bound"]) if obj.get("pair_bound") is not None else None,
            created=parse_created(obj.get("created")),
            command=[str(c) for c in obj.get("command") or []] if isinstance(obj.get("command"), list) else [],
            host=obj.get("host") if isinstance(obj.get("host"), str) else None,
            git_commit=obj.get("git_commit") if isinstance(obj.get("git_commit"), str) else None,
            versions=dict(obj["versions"]) if isinstance(obj.get("versions"), Mapping) else {},
            extra={k: v for k, v in obj.items() if k not in _JSON_KEYS}, path=path, mtime_ns=mtime_ns)

    # ---------------------------------------------------------------------------- files
    def write(self, path: str | os.PathLike) -> Path:
        """Write ``to_json()`` to ``path`` atomically (``hsi.io.atomic_write_json``)."""
        return atomic_write_json(path, self.to_json())

    @classmethod
    def read(cls, path: str | os.PathLike) -> "ValidationRecord":
        """The record in the file ``path`` (with ``path`` and its ``mtime_ns``).

        ``OSError`` if it cannot be read, ``ValueError`` if it is not a JSON object, ``RecordError``
        (a ``ValueError``) if it is not a complete validation record."""
        path = Path(path)
        mtime_ns = path.stat().st_mtime_ns
        obj = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        return cls.from_json(obj, path, mtime_ns)

    # ---------------------------------------------------------------------------- derived
    @property
    def table(self) -> str | None:
        """The table part of the tag (``table5`` in ``table5/metamer``), None when untagged."""
        return self.tag.split("/", 1)[0] if self.tag else None

    @property
    def column(self) -> str | None:
        """The column part of the tag (``metamer`` in ``table5/metamer``), None when untagged."""
        return self.tag.split("/", 1)[1] if self.tag else None

    @property
    def run_dir(self) -> Path | None:
        """The run folder (the folder of the file it was read from)."""
        return self.path.parent if self.path is not None else None

    @property
    def finished_at(self) -> _dt.datetime:
        """``created``, or else the file's modification time (UTC; the epoch for a record not read from a file)."""
        if self.created is not None:
            return self.created
        return _dt.datetime.fromtimestamp((self.mtime_ns or 0) / 1e9, _dt.timezone.utc)

    def newest_last_key(self) -> tuple:
        """Sort key putting records in the order they were written: ``finished_at`` (sub-second), then the
        file's mtime in ns (written later), then the path."""
        return (self.finished_at, self.mtime_ns if self.mtime_ns is not None else -1, str(self.path))

    def extra_metric(self, key: str) -> float | None:
        """An optional summary value (e.g. ``hsi.metrics.MRAE_WITHOUT_NEAR_ZERO``), None when absent."""
        v = self.summary.get(key)
        return float(v) if _number(v) else None

    def replace(self, **changes: Any) -> "ValidationRecord":
        """A copy with ``changes`` (the record is immutable)."""
        return dataclasses.replace(self, **changes)
