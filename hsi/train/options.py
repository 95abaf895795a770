"""Typed options of training and validation: what the scripts' flags mean, callable without argparse.

Every field has the default of the flag of the same name in the paper's scripts (``RGB2HS/*.py``,
``MST_plus_plus_code/train_code/train.py``), so ``run_training(TrainingOptions(mode="fixed"))`` does what
``python RGB2HS/train_RGB2HS_fixed_metamer.py`` does. ``options_from_args`` is the one place where a
parsed ``argparse.Namespace`` becomes options (``hsi.train.cli``).

    from hsi.train.experiments import EngineOptions, TrainingOptions, run_training
    run_training(TrainingOptions(mode="fixed", dataset_name="SYNTH", engine=EngineOptions(device="cpu")))
"""
from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

from hsi.layout import MSTPP_RUN_ROOT, TRAIN_MODES, TRAIN_RESULT_ROOT, VALIDATION_RESULT_ROOT

DATA_JOINS = ("standard", "metamer", "both")
"""Which pairs a data set holds: ``standard`` (originals), ``metamer`` or ``both`` (metamers, then originals)."""
DEFAULT_DATA_JOIN = {"no_metamer": "standard", "fixed": "both", "onthefly": "both"}
"""The trainers' ``--data_join`` defaults (the fixed-metamer trainer always uses ``both``)."""


@dataclass(frozen=True)
class EngineOptions:
    """The toolkit's engine flags (``hsi.train.cli.add_engine_args``) and the device choice.

    Attributes:
        resume: continue from ``<run>/last.pth`` if present (refused when settings that change the result
            differ: ``hsi.train.engine.RESULT_KEYS``/``RESULT_ARGS``). overwrite: start over in a folder that
            holds a run, moving the old run to ``<run>.old-<time>`` (never deleted). amp: bf16 autocast.
        compile, compile_mode: ``torch.compile`` the network and its mode (``auto``: reduce-overhead on one GPU).
        tf32: allow TF32 on CUDA. deterministic: deterministic algorithms.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:k``; gpu_id: GPU index (``--gpu_id``; with
            ``device="auto"`` it selects ``cuda:<gpu_id>``).
        num_workers: DataLoader workers. data_on_device: ``auto``, ``on`` or ``off``.
        cache_dir: scene cache folder (None: ``<dataset>/cache``).
        valid_border: pixels cropped from each border for the validation metrics.
        srf_name: camera the data was rendered with (ssrnet's input; None: the default camera).
        stop_at: stop after this iteration as if killed (tests of resume).
    """

    resume: bool = False
    overwrite: bool = False
    amp: bool = False
    compile: bool = False
    compile_mode: str = "auto"
    tf32: bool = True
    deterministic: bool = False
    device: str = "auto"
    gpu_id: str | None = None
    num_workers: int = 2
    data_on_device: str = "auto"
    cache_dir: str | None = None
    valid_border: int = 0
    srf_name: str | None = None
    stop_at: int | None = None


@dataclass(frozen=True)
class OnTheFlyOptions:
    """The on-the-fly trainer's own flags (ignored by the other modes).

    Attributes:
        srf_path: camera response (.npz in the paper's format, .csv or a camera name; the paper's default
            path means the shipped Basler camera). psf_path: folder of the PSF files.
        on_the_fly: False trains on the on-disk originals. metamer_mode: ``clip``, ``exact`` or
            ``exact_optics`` (``hsi.metamer.METAMER_MODES``).
        alpha_min, alpha_max: the metamers' alpha is uniform in ``[alpha_min, alpha_max)``.
        quantize: ``truncate``, ``round`` or ``none``, as the on-disk data were generated.
        exact_iterations: ``exact`` mode only: None iterates each pixel to convergence (checked on the
            host, the default); a number runs exactly that many damped Newton steps on every pixel with no
            host synchronisation (``hsi.metamer.metamer_exact(iterations=...)``).
    """

    srf_path: str = "./resources/A2a5320-23ucBAS_gain.npz"
    psf_path: str = "./PSFs"
    on_the_fly: bool = True
    metamer_mode: str = "clip"
    alpha_min: float = -1.0
    alpha_max: float = 2.0
    quantize: str = "truncate"
    exact_iterations: int | None = None


@dataclass(frozen=True)
class TrainingOptions:
    """One run of the RGB2HS trainers (``mode``: ``no_metamer``, ``fixed`` or ``onthefly``).

    ``result_root`` None means the mode's folder (``hsi.layout.TRAIN_RESULT_ROOT``), ``data_join`` None the
    mode's default (``DEFAULT_DATA_JOIN``); both are filled in on construction. Iterations:
    ``num_epochs * per_epoch_iteration``; frequencies in iterations; ``percent``: use exactly that
    percentage of the training scenes (None: all). ``pretrained_root``/``resume_file``: the checkpoint
    to start from (folder and stem).
    """

    mode: str = "no_metamer"
    psf_name: str | None = None
    dataset_path: str = "./datasets"
    dataset_name: str = "ARAD_1K"
    method: str = "mst_plus_plus"
    pretrained_root: str | None = None
    resume_file: str | None = None
    result_root: str | None = None
    noise_type: str = "poisson"
    npe: int = 0
    rgb_format: str = "png"
    percent: float | None = None
    num_epochs: int = 300
    init_lr: float | None = None
    batch_size: int = 20
    crop_size: int = 128
    stride: int = 8
    per_epoch_iteration: int = 1000
    loss_func: str = "l1"
    log_freq: int = 20
    valid_freq: int = 100
    save_freq: int = 1000
    seed: int = 0
    data_join: str | None = None
    wandb: bool = False
    onthefly: OnTheFlyOptions = field(default_factory=OnTheFlyOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)

    def __post_init__(self):
        if self.mode not in TRAIN_MODES:
            raise ValueError(f"mode must be one of {TRAIN_MODES}, got {self.mode!r}")
        if self.result_root is None:
            object.__setattr__(self, "result_root", TRAIN_RESULT_ROOT[self.mode])
        join = DEFAULT_DATA_JOIN[self.mode] if self.data_join is None else self.data_join
        if join not in DATA_JOINS or (self.mode == "fixed" and join != "both"):
            raise ValueError(f"data_join must be one of {DATA_JOINS} ('both' for fixed metamers), got {join!r}")
        object.__setattr__(self, "data_join", join)


@dataclass(frozen=True)
class MstppTrainingOptions:
    """The MST++ toolbox recipe (``MST_plus_plus_code/train_code/train.py``) on an ARAD_1K-style folder.

    ``end_epoch * iterations_per_epoch`` iterations with the MRAE loss; ``outf``: run folder
    (``_<p>percent`` appended with ``percent``); ``pretrained_model_path``: weights to start from.
    """

    method: str = "mst_plus_plus"
    pretrained_model_path: str | None = None
    percent: float | None = None
    batch_size: int = 20
    end_epoch: int = 300
    iterations_per_epoch: int = 1000
    init_lr: float | None = None
    outf: str = MSTPP_RUN_ROOT
    data_root: str = "./datasets/ARAD_1K/"
    patch_size: int = 128
    stride: int = 8
    wandb: bool = False
    seed: int = 0
    valid_freq: int = 1000
    save_freq: int = 1000
    log_freq: int = 20
    engine: EngineOptions = field(default_factory=EngineOptions)


@dataclass(frozen=True)
class ValidationOptions:
    """One validation (``RGB2HS/validate_RGB2HS.py``) of the checkpoint file ``pretrained_root``.

    ``metamer``: the alpha = 0 metamer data (else the originals); ``rgb_format``: png, jpg or ``all``;
    ``split``: scene list; ``border``: pixels cropped from every border; ``skip_existing``: reuse a
    summary made from the same checkpoint; ``tag``: ``<table>/<column>`` for the report.
    """

    psf_name: str | None = None
    dataset_path: str = "./datasets"
    dataset_name: str = "ARAD_1K"
    method: str = "mst_plus_plus"
    pretrained_root: str = "./RGB2HS/model_zoo/mst_plus_plus.pth"
    result_root: str = VALIDATION_RESULT_ROOT
    metamer: bool = False
    noise_type: str = "poisson"
    npe: int = 0
    rgb_format: str = "png"
    gpu_id: str | None = None
    device: str = "auto"
    split: str = "valid"
    save_recon: bool = False
    border: int = 0
    self_ensemble: bool = False
    amp: bool = False
    srf_name: str | None = None
    skip_existing: bool = False
    tag: str | None = None


def _nested(f) -> type | None:
    return f.default_factory if f.default_factory is not MISSING and is_dataclass(f.default_factory) else None


def _fill(cls: type, values: dict[str, Any], used: set[str]) -> Any:
    kwargs = {}
    for f in fields(cls):
        sub = _nested(f)
        if sub is not None:
            kwargs[f.name] = _fill(sub, values, used)
        elif f.name in values:
            kwargs[f.name] = values[f.name]
            used.add(f.name)
    return cls(**kwargs)


def options_from_args(cls: type, args: argparse.Namespace, cli_only: tuple[str, ...] = (), **fixed) -> Any:
    """``cls`` (an options dataclass) from parsed flags: each flag fills the field of its name, in
    ``cls`` or its nested options; ``fixed`` adds values the script implies (e.g. ``mode``).

    Flags that no field takes raise ``TypeError`` unless listed in ``cli_only`` (flags of the script itself).
    """
    values = {**vars(args), **fixed}
    used: set[str] = set()
    opts = _fill(cls, values, used)
    unknown = sorted(set(values) - used - set(cli_only))
    if unknown:
        raise TypeError(f"{cls.__name__} has no field for the flags {unknown}")
    return opts


def flat_record(opts: Any) -> dict[str, Any]:
    """The options as one flat ``{flag: value}`` dict (nested options merged): the ``args`` of the
    run records (``config.json``, ``summary.json``), as the report reads them."""
    out: dict[str, Any] = {}
    for key, value in asdict(opts).items():
        if isinstance(value, dict):
            out.update(value)
        else:
            out[key] = value
    return out
