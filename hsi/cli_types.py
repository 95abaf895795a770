"""Checked argparse types: a bad flag value is refused by the parser with a one-line message.

``argparse`` turns the ``argparse.ArgumentTypeError`` these raise into
``<prog>: error: argument --flag: <message>`` and exit code 2. The paper's ``--flag True|False`` stays
(``str2bool``); a bare ``--flag`` means True when the flag is declared with ``bool_flag``.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable

TRUE_WORDS = ("yes", "y", "true", "t", "1", "on")
FALSE_WORDS = ("no", "n", "false", "f", "0", "off")


def str2bool(value: str | bool) -> bool:
    """``True`` for yes/y/true/t/1/on, ``False`` for no/n/false/f/0/off (any case); anything else is an
    error listing the accepted words (the paper's parser read every other word as False)."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not a boolean; use one of {', '.join(TRUE_WORDS)} "
                                     f"or {', '.join(FALSE_WORDS)}")


def bool_flag(parser, name: str, default: bool, help: str = "") -> None:
    """Declare ``--name [BOOL]``: ``--name True|False`` as the paper's scripts, bare ``--name`` = True."""
    parser.add_argument(name, type=str2bool, nargs="?", const=True, default=default, metavar="BOOL", help=help)


def _number(kind: type, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}")
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if lo is not None and (value < lo or (lo_open and value == lo)):
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {'>' if lo_open else '>='} {lo:g}")
        if hi is not None and (value > hi or (hi_open and value == hi)):
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {'<' if hi_open else '<='} {hi:g}")
        return value
    return parse


def finite_float(text: str) -> float:
    """Any finite number (refuses nan and inf)."""
    return _number(float, None, None, False, False)(text)


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    return _number(float, 0, None, False, False)(text)


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _number(float, 0, None, True, False)(text)


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _number(int, 1, None, False, False)(text)


def optional_positive_int(text: str) -> int | None:
    """``None`` (the word, any case) or an integer >= 1."""
    return None if str(text).strip().lower() == "none" else positive_int(text)


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    return _number(int, 0, None, False, False)(text)


def unit_interval(text: str) -> float:
    """A number in (0, 1] (e.g. an exposure target as a fraction of full scale)."""
    return _number(float, 0, 1, True, False)(text)


def percent(text: str) -> float:
    """A percentage in (0, 100]."""
    return _number(float, 0, 100, True, False)(text)


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    """An integer in [lo, hi] (e.g. a JPEG quality in [1, 100])."""
    return _number(int, lo, hi, False, False)


def allow_bare_bool(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Let every flag of ``parser`` declared with ``type=str2bool`` also be given bare (``--flag`` = True),
    as ``bool_flag`` declares it; ``--flag True|False`` keeps working. Returns ``parser``."""
    for action in parser._actions:
        if action.type is str2bool and action.option_strings and action.nargs is None:
            action.nargs, action.const = "?", True
            action.metavar = action.metavar or "BOOL"
    return parser


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with the description as written (the module docstring) and each flag's default."""


def one_of(names, more: str = "") -> str:
    """``"one of a, b, c"`` (+ ``more``) for a flag's help: the names it accepts."""
    names = list(names)
    return f"one of {', '.join(names) if names else '(none found)'}{more}"


def method_help() -> str:
    """The accepted ``--method`` names (``hsi.models.METHODS``)."""
    from hsi.models import METHODS
    return "network or baseline: " + one_of(METHODS)


def dataset_help() -> str:
    """The accepted ``--dataset_name`` values (``hsi.datasets.DATASETS``)."""
    from hsi.datasets import DATASETS
    return "dataset: " + one_of(DATASETS, " (case-insensitive; SYNTH_<x> for other synthetic sets)")


def camera_help(what: str = "camera") -> str:
    """The accepted camera names (``hsi.camera.CAMERA_NAMES``) or a file."""
    from hsi.camera import CAMERA_NAMES
    return f"{what}: " + one_of(CAMERA_NAMES, ", or a .npz (paper format: wavelengths, R, G, B) / .csv file")


def psf_help(psf_folder="PSFs") -> str:
    """The accepted ``--psf_name`` values: a PSF file stem in the PSF folder, or None."""
    from pathlib import Path

    from hsi.optics import list_psfs
    folder = Path(psf_folder)
    if not folder.is_absolute() and not folder.is_dir():
        folder = Path(__file__).resolve().parents[1] / folder
    shipped = list_psfs(folder) if folder.is_dir() else []
    return f"PSF file stem in the PSF folder, or None (no PSF); in {folder.name}/: " + one_of(shipped)
