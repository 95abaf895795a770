"""Cheap checks that a file on disk is whole, and clean-up of what killed writes left behind.

``check_image_file`` reads only the header and the last bytes of a PNG (signature, IEND chunk) or JPEG
(SOI, EOI marker): seconds for a whole dataset, not a decode. ``check_hdf5_file`` opens a v7.3 ``.mat``
and checks that every dataset's stored bytes lie inside the file (a truncated copy fails).
``remove_stale_temp_files`` deletes the temporary files of ``hsi.io.atomic`` (``.<stem>.tmp-*``)
that a killed process left in a folder.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import h5py

from hsi.errors import ToolkitError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"IEND\xaeB`\x82"
JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
TEMP_MARK = ".tmp-"
_TAIL_BYTES = 4096


class CorruptFileError(ToolkitError, ValueError):
    """A file that is truncated or not what its name says; the message names it."""


def _head_tail(path: Path, n: int) -> tuple[bytes, bytes, int]:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(16)
        fh.seek(max(0, size - n))
        tail = fh.read(n)
    return head, tail, size


def check_image_file(path: str | os.PathLike) -> Path:
    """Raise ``CorruptFileError`` unless ``path`` is a whole PNG or JPEG (by content, any suffix).

    PNG: the 8-byte signature and the IEND chunk at the end. JPEG: SOI at the start and an EOI marker
    within the last 4 KiB (cameras may pad after it). Other formats (TIFF) are only checked to exist
    and be non-empty.
    """
    path = Path(path)
    if not path.is_file():
        raise CorruptFileError(f"{path}: file not found")
    head, tail, size = _head_tail(path, _TAIL_BYTES)
    if size == 0:
        raise CorruptFileError(f"{path}: empty file")
    if head.startswith(PNG_SIGNATURE):
        if not tail.endswith(PNG_IEND):
            raise CorruptFileError(f"{path}: truncated PNG (no IEND chunk at the end of its {size} bytes); "
                                   "regenerate or re-copy it")
    elif head.startswith(JPEG_SOI):
        ends = tail.rstrip(b"\x00").endswith(JPEG_EOI)
        if not ends and (size <= _TAIL_BYTES or JPEG_EOI not in tail):   # padding after EOI only in big files
            raise CorruptFileError(f"{path}: truncated JPEG (no end-of-image marker in its {size} bytes); "
                                   "regenerate or re-copy it")
    elif path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        raise CorruptFileError(f"{path}: not a {path.suffix[1:].upper()} file (its first bytes are {head[:8]!r})")
    return path


def check_hdf5_file(path: str | os.PathLike) -> Path:
    """Raise ``CorruptFileError`` unless ``path`` opens with h5py and every dataset's data lie in the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with h5py.File(path, "r") as f:
            for name in f:
                obj = f[name]
                if not isinstance(obj, h5py.Dataset):
                    continue
                offset = obj.id.get_offset()
                if offset is not None and offset + obj.id.get_storage_size() > size:
                    raise CorruptFileError(f"{path}: truncated HDF5 file (dataset {name!r} ends after the end of "
                                           f"the file's {size} bytes); regenerate or re-copy it")
    except CorruptFileError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptFileError(f"{path}: unreadable HDF5/.mat file ({exc}); regenerate or re-copy it") from None
    return path


def check_files(paths: Iterable[str | os.PathLike]) -> int:
    """Check every image (``check_image_file``) and ``.mat`` (``check_hdf5_file`` for HDF5 files) given;
    returns how many were checked. Raises ``CorruptFileError`` on the first bad one."""
    from hsi.io.mat import is_hdf5

    n = 0
    for p in paths:
        p = Path(p)
        if p.suffix.lower() == ".mat":
            if not p.is_file():
                raise CorruptFileError(f"{p}: file not found")
            if is_hdf5(p):
                check_hdf5_file(p)
        else:
            check_image_file(p)
        n += 1
    return n


def remove_stale_temp_files(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Delete the ``hsi.io.atomic`` temporary files (``.<stem>.tmp-*``) under ``folder``.

    Call it only while holding the folder (``hsi.io.lock.output_lock``): a running writer's temporary
    file would be removed too. Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f".*{TEMP_MARK}*"
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    removed = []
    for p in found:
        if p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed
