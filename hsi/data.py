"""Training and validation data: split lists, a disk-backed scene cache, the patch grid, augmentation.

RAM does not grow with the dataset: each scene is converted once to an uncompressed ``.npy`` file
(cube ``(31, H, W)`` float32, RGB ``(3, H, W)`` as stored, uint8/uint16) in a cache folder and then
memory-mapped, so a patch read touches only its own pages and the OS page cache does the rest.

Patches follow the paper's sampler: a dense grid of ``crop x crop`` patches with ``stride`` on every
training image (``(H - crop)//stride + 1`` rows x ``(W - crop)//stride + 1`` columns), shuffled, with a
random rot90 (k in 0..3) and flips of H and W applied identically to RGB and cube. The order and the
augmentation come from ``ResumableBatchSampler``: a pure function of (seed, iteration), so a resumed
run sees exactly the batches an uninterrupted run would, on any number of processes.

On a GPU with room for the scenes, ``DevicePatchSource`` holds them in GPU memory and cuts the same
batches there (no loader workers, no per-batch host copies).
"""
from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from hsi.errors import ToolkitError
from hsi.io import minmax_normalise, read_mat_cube, read_rgb_raw
from hsi.io.atomic import atomic_path
from hsi.errors import ToolkitError


class DataError(ToolkitError, ValueError):
    """Missing or unusable training/validation data; the message says what and where."""


def read_checked_cube(src: str | os.PathLike, range_check: bool = True) -> np.ndarray:
    """The ``(31, H, W)`` cube of ``src``; ``DataError`` naming the file and the fix when its values are
    not radiance in [0, 1] (NaN/Inf, all zero, negative, above 1: ``hsi.convert.cube_value_problem``;
    ``range_check`` False, for metamer cubes, which may exceed 1: NaN/Inf and all-zero only)."""
    from hsi.convert import cube_value_problem
    cube = read_mat_cube(src).cube
    problem = cube_value_problem(cube, range_check=range_check)
    if problem:
        raise DataError(f"{src}: {problem}")
    return cube


def read_train_valid_splits(dataset_dir: str | os.PathLike) -> tuple[list[str], list[str]]:
    """The train and valid scene lists of a dataset folder; ``DataError`` when a scene is in both
    (``hsi.datasets.read_splits``, as ``check_dataset.py``) or a list is missing."""
    from hsi.datasets import SplitListError, read_splits
    try:
        splits = read_splits(dataset_dir, ("train", "valid"))
    except SplitListError as exc:
        raise DataError(str(exc)) from None
    return splits["train"], splits["valid"]


# ------------------------------------------------------------------------------------------ splits
def read_split(dataset_dir: str | os.PathLike, which: str) -> list[str]:
    """Scene stems of ``<dataset_dir>/split_txt/<which>_list.txt`` (``which``: train or valid), in file order."""
    from hsi.datasets import SplitListError, read_split_list, split_list_path
    try:
        return read_split_list(split_list_path(dataset_dir, which))
    except SplitListError as exc:
        raise DataError(str(exc)) from None


def select_percent(scenes: Sequence[str], percent: float | None, seed: int) -> list[str]:
    """Exactly ``round(N * percent / 100)`` scenes (at least 1), drawn reproducibly from ``seed``.

    The selection keeps the list's order. ``percent`` None or 100 returns all scenes.
    """
    scenes = list(scenes)
    if percent is None or percent >= 100:
        return scenes
    if not 0 < percent <= 100:
        raise DataError(f"--percent must be in (0, 100], got {percent}")
    k = max(1, int(round(len(scenes) * percent / 100.0)))
    chosen = set(random.Random(f"percent/{seed}").sample(range(len(scenes)), k))
    return [s for i, s in enumerate(scenes) if i in chosen]


# ----------------------------------------------------------------------------------------- pairs
@dataclass(frozen=True)
class ScenePair:
    """One training/validation image: ``name`` (scene id carried to every output), the cube file,
    the RGB file (None for on-the-fly rendering) and the variant (``original`` or ``metamer``)."""

    name: str
    cube_path: Path
    rgb_path: Path | None
    variant: str = "original"

    @property
    def key(self) -> str:
        """Unique id of the sample, e.g. ``ARAD_1K_0901`` or ``ARAD_1K_0901_metamer``."""
        return self.name if self.variant == "original" else f"{self.name}_{self.variant}"


def check_files(pairs: Sequence[ScenePair], hint: str = "") -> None:
    """Raise ``DataError`` naming up to 5 missing files (and ``hint``: how to make them)."""
    missing = [str(p) for pair in pairs for p in (pair.cube_path, pair.rgb_path) if p is not None and not p.is_file()]
    if missing:
        more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
        raise DataError(f"{len(missing)} data files missing, e.g. {', '.join(missing[:5])}{more}" + (f"\n{hint}" if hint else ""))


# ----------------------------------------------------------------------------------------- cache
class SceneCache:
    """Uncompressed, memory-mapped copies of cubes and RGB images, made once per source file.

    Cache files are named by the source's stem and a hash of its absolute path, size and mtime, so a
    changed source is converted again. A cube's values are checked when it is converted
    (:func:`read_checked_cube`: bad values are a ``DataError`` naming the file), at no extra read. Writes are atomic, so concurrent processes (DDP ranks, loader
    workers) at worst convert the same file twice.
    """

    def __init__(self, cache_dir: str | os.PathLike):
        self.cache_dir = Path(cache_dir)

    def _target(self, src: Path, kind: str) -> Path:
        st = src.stat()
        tag = hashlib.blake2b(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}|{kind}".encode(), digest_size=6).hexdigest()
        return self.cache_dir / f"{src.stem}.{kind}.{tag}.npy"

    def _get(self, src: Path, kind: str, range_check: bool = True) -> np.ndarray:
        target = self._target(src, kind)
        if not target.is_file():
            arr = read_checked_cube(src, range_check) if kind == "cube" else read_rgb_raw(src)
            with atomic_path(target) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, np.ascontiguousarray(arr))
        return np.load(target, mmap_mode="r")

    def cube(self, src: str | os.PathLike, range_check: bool = True) -> np.ndarray:
        """``(31, H, W)`` float32, memory-mapped (values checked on conversion; ``range_check`` False for
        metamer cubes)."""
        return self._get(Path(src), "cube", range_check)

    def rgb(self, src: str | os.PathLike) -> np.ndarray:
        """``(3, H, W)`` uint8/uint16 as stored in the image file, memory-mapped."""
        return self._get(Path(src), "rgb")


# ------------------------------------------------------------------------------------ augmentation
def augment(x: np.ndarray, code: int) -> np.ndarray:
    """Apply augmentation ``code`` (0..15: bits 0-1 = rot90 k, bit 2 = flip H, bit 3 = flip W) to the
    last two axes of ``x``."""
    k = code & 3
    if k:
        x = np.rot90(x, k, axes=(-2, -1))
    if code & 4:
        x = x[..., ::-1, :]
    if code & 8:
        x = x[..., :, ::-1]
    return x


# --------------------------------------------------------------------------------------- sampler
class ResumableBatchSampler(Sampler):
    """Infinite stream of batches of ``(patch_index, augmentation_code)``, a pure function of the seed.

    Pass ``p`` shuffles all ``num_items`` patches with a generator seeded by (seed, p) and cuts global
    batches of ``batch_size`` (``drop_last``); with ``world_size`` processes each rank takes its slice
    of every global batch, so the global batch and the schedule do not depend on the number of GPUs.
    ``start_batch`` skips the batches already trained on (resume).
    """

    def __init__(self, num_items: int, batch_size: int, seed: int = 0, start_batch: int = 0,
                 rank: int = 0, world_size: int = 1):
        if num_items < batch_size:
            raise DataError(f"only {num_items} training patches for a batch of {batch_size}: use more "
                            "scenes, a smaller --crop_size/--stride or a smaller --batch_size")
        if batch_size % world_size:
            raise DataError(f"batch size {batch_size} is not divisible by the {world_size} processes")
        self.num_items, self.batch_size, self.seed = num_items, batch_size, seed
        self.start_batch, self.rank, self.world_size = start_batch, rank, world_size
        self.batches_per_pass = num_items // batch_size

    def _pass(self, p: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(int(hashlib.blake2b(f"{self.seed}/{p}".encode(), digest_size=7).hexdigest(), 16))
        return torch.randperm(self.num_items, generator=g), torch.randint(0, 16, (self.num_items,), generator=g)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        b = self.start_batch
        per_rank = self.batch_size // self.world_size
        while True:
            p, offset = divmod(b, self.batches_per_pass)
            perm, aug = self._pass(p)
            for j in range(offset, self.batches_per_pass):
                lo = j * self.batch_size + self.rank * per_rank
                idx = perm[lo:lo + per_rank].tolist()
                codes = aug[lo:lo + per_rank].tolist()
                yield list(zip(idx, codes))
            b = (p + 1) * self.batches_per_pass

    def __len__(self) -> int:  # nominal: one pass
        return self.batches_per_pass


# ---------------------------------------------------------------------------------------- datasets
@dataclass
class SceneStats:
    """Per-scene values for on-the-fly rendering, from a noiseless render of the full original image:
    exposure ``gain`` and the rendered image's ``dn_min``/``dn_max`` (for the paper's min-max input
    normalisation on the whole image)."""

    gain: float
    dn_min: float
    dn_max: float


@dataclass
class PatchDataset(Dataset):
    """Dense-grid patches of a list of scenes.

    Items are ``(patch_index, aug_code)`` from ``ResumableBatchSampler``. A fixed-data item is
    ``{"rgb": (3, c, c) float32 in [0, 1] (min-max of the whole image), "cube": (31, c, c)}``; an
    on-the-fly item (pairs without RGB) is ``{"cube": (31, c + 2m, c + 2m), "gain", "dn_min", "dn_max"}``
    with ``m = margin`` pixels of context around the patch for the PSF (reflect-padded at image borders).
    """

    pairs: Sequence[ScenePair]
    cache: SceneCache
    crop_size: int = 128
    stride: int = 8
    margin: int = 0
    stats: dict[str, SceneStats] | None = None
    _grid: list[tuple[int, int, int]] = field(default_factory=list, init=False)  # (rows, cols, start)
    _rgb_range: dict[int, tuple[float, float]] = field(default_factory=dict, init=False)
    sizes: list[tuple[int, int]] = field(default_factory=list, init=False)  # (H, W) per scene

    def __post_init__(self):
        if not self.pairs:
            raise DataError("no training scenes")
        start = 0
        for pair in self.pairs:
            cube = self.cache.cube(pair.cube_path, range_check=pair.variant == "original")
            _, h, w = cube.shape
            if pair.rgb_path is not None:
                rgb = self.cache.rgb(pair.rgb_path)
                if rgb.shape[1:] != (h, w):
                    raise DataError(f"{pair.rgb_path}: RGB size {rgb.shape[1:]} differs from the cube's {(h, w)} "
                                    f"({pair.cube_path})")
            if h < self.crop_size or w < self.crop_size:
                raise DataError(f"{pair.cube_path}: image {h}x{w} is smaller than the crop {self.crop_size}")
            rows = (h - self.crop_size) // self.stride + 1
            cols = (w - self.crop_size) // self.stride + 1
            self._grid.append((rows, cols, start))
            self.sizes.append((h, w))
            start += rows * cols
        self._starts = np.array([g[2] for g in self._grid])
        self.num_patches = start

    def __len__(self) -> int:
        return self.num_patches

    def locate(self, index: int) -> tuple[int, int, int]:
        """``(scene, top, left)`` of patch ``index``."""
        s = int(np.searchsorted(self._starts, index, side="right") - 1)
        rows, cols, start = self._grid[s]
        r, c = divmod(index - start, cols)
        return s, r * self.stride, c * self.stride

    def rgb_range(self, s: int) -> tuple[float, float]:
        """Min and max of scene ``s``'s stored RGB image (the paper's whole-image min-max normalisation)."""
        if s not in self._rgb_range:
            rgb = self.cache.rgb(self.pairs[s].rgb_path)
            self._rgb_range[s] = (float(rgb.min()), float(rgb.max()))
        return self._rgb_range[s]

    def window(self, s: int, top: int, left: int) -> tuple[tuple[slice, slice], tuple[int, int, int, int]]:
        """Rows/columns of the patch at ``(top, left)`` of scene ``s`` plus its context margin, clipped to
        the image, and the reflect padding ``(top, bottom, left, right)`` that restores the full size."""
        h, w = self.sizes[s]
        c, m = self.crop_size, self.margin
        t0, t1, l0, l1 = top - m, top + c + m, left - m, left + c + m
        rows, cols = slice(max(t0, 0), min(t1, h)), slice(max(l0, 0), min(l1, w))
        return (rows, cols), (max(-t0, 0), max(t1 - h, 0), max(-l0, 0), max(l1 - w, 0))

    def scene_stats(self, s: int) -> SceneStats:
        """On-the-fly rendering values of scene ``s`` (neutral ones when no statistics were given)."""
        return self.stats[self.pairs[s].key] if self.stats else SceneStats(0.0, 0.0, 1.0)

    def __getitem__(self, item):
        index, code = item if isinstance(item, tuple) else (item, 0)
        s, top, left = self.locate(int(index))
        pair = self.pairs[s]
        c = self.crop_size
        cube_full = self.cache.cube(pair.cube_path)
        if pair.rgb_path is None:
            (rows, cols), (pt, pb, pl, pr) = self.window(s, top, left)
            patch = np.asarray(cube_full[:, rows, cols], dtype=np.float32)
            if pt or pb or pl or pr:
                patch = np.pad(patch, ((0, 0), (pt, pb), (pl, pr)), mode="reflect")
            st = self.scene_stats(s)
            return {"cube": torch.from_numpy(np.ascontiguousarray(augment(patch, code))),
                    "gain": torch.tensor(st.gain, dtype=torch.float64),
                    "dn_min": torch.tensor(st.dn_min, dtype=torch.float32),
                    "dn_max": torch.tensor(st.dn_max, dtype=torch.float32)}
        cube = np.asarray(cube_full[:, top:top + c, left:left + c], dtype=np.float32)
        rgb_full = self.cache.rgb(pair.rgb_path)
        lo, hi = self.rgb_range(s)
        rgb = minmax_normalise(np.asarray(rgb_full[:, top:top + c, left:left + c], dtype=np.float32), lo, hi)
        return {"rgb": torch.from_numpy(np.ascontiguousarray(augment(rgb, code))),
                "cube": torch.from_numpy(np.ascontiguousarray(augment(cube, code)))}


def augment_tensor(x: torch.Tensor, code: int) -> torch.Tensor:
    """:func:`augment` on the last two axes of a tensor (same codes, same result)."""
    k = code & 3
    if k:
        x = torch.rot90(x, k, dims=(-2, -1))
    flips = [d for bit, d in ((4, -2), (8, -1)) if code & bit]
    return torch.flip(x, flips) if flips else x


class DevicePatchSource:
    """The batches of a :class:`PatchDataset`, cut on ``device`` from scenes held in its memory.

    Each scene is read once from the cache and copied to ``device`` (RGB already min-max normalised as
    the dataset does), so a batch costs a few slicing and copy kernels there instead of worker
    processes, host copies and a transfer per batch. ``batch(items)`` returns exactly what
    ``default_collate([dataset[i] for i in items])`` would, on ``device``. It needs
    :meth:`bytes_needed` of device memory; host RAM holds one scene at a time while loading.
    """

    def __init__(self, dataset: PatchDataset, device: torch.device | str, progress: bool = False):
        from tqdm import tqdm
        self.dataset = dataset
        self.device = torch.device(device)
        self.cubes: list[torch.Tensor] = []
        self.rgbs: list[torch.Tensor | None] = []
        for s, pair in enumerate(tqdm(dataset.pairs, desc="scenes to device", disable=not progress, leave=False)):
            cube = np.array(dataset.cache.cube(pair.cube_path), dtype=np.float32)  # one scene in host RAM
            self.cubes.append(torch.from_numpy(cube).to(self.device))
            if pair.rgb_path is None:
                self.rgbs.append(None)
                continue
            lo, hi = dataset.rgb_range(s)
            raw = torch.from_numpy(np.array(dataset.cache.rgb(pair.rgb_path), dtype=np.float32))
            self.rgbs.append(minmax_normalise(raw.to(self.device), lo, hi).contiguous())

    @staticmethod
    def bytes_needed(dataset: PatchDataset) -> int:
        """Device memory the scenes of ``dataset`` take (float32 cubes and RGB images)."""
        bands = [dataset.cache.cube(pair.cube_path).shape[0] for pair in dataset.pairs[:1]]
        return sum((bands[0] + (0 if pair.rgb_path is None else 3)) * h * w * 4
                   for pair, (h, w) in zip(dataset.pairs, dataset.sizes))

    def _patch(self, s: int, top: int, left: int, code: int) -> dict[str, torch.Tensor]:
        ds, c = self.dataset, self.dataset.crop_size
        if self.rgbs[s] is None:
            (rows, cols), (pt, pb, pl, pr) = ds.window(s, top, left)
            if pt or pb or pl or pr:   # numpy's reflect padding (repeated for pads beyond the image) as indices
                row_index = np.pad(np.arange(rows.start, rows.stop), (pt, pb), mode="reflect")
                col_index = np.pad(np.arange(cols.start, cols.stop), (pl, pr), mode="reflect")
                patch = (self.cubes[s].index_select(1, self._to_device(torch.from_numpy(row_index)))
                         .index_select(2, self._to_device(torch.from_numpy(col_index))))
            else:
                patch = self.cubes[s][:, rows, cols]
            return {"cube": augment_tensor(patch, code)}
        return {"rgb": augment_tensor(self.rgbs[s][:, top:top + c, left:left + c], code),
                "cube": augment_tensor(self.cubes[s][:, top:top + c, left:left + c], code)}

    def batch(self, items: Sequence[tuple[int, int]]) -> dict[str, torch.Tensor]:
        """The batch of ``(patch_index, aug_code)`` items (as ``ResumableBatchSampler`` yields them)."""
        located = [(self.dataset.locate(int(index)), int(code)) for index, code in items]
        patches = [self._patch(s, top, left, code) for (s, top, left), code in located]
        out = {k: torch.stack([p[k] for p in patches]) for k in patches[0]}
        if "rgb" not in out:
            stats = [self.dataset.scene_stats(s) for (s, _, _), _ in located]
            for key, dtype in (("gain", torch.float64), ("dn_min", torch.float32), ("dn_max", torch.float32)):
                out[key] = self._to_device(torch.tensor([getattr(st, key) for st in stats], dtype=dtype))
        return out

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        """Small host tensor to the device without a host sync (pinned, non-blocking on CUDA)."""
        if self.device.type != "cuda":
            return t.to(self.device)
        return t.pin_memory().to(self.device, non_blocking=True)


class FullImageDataset(Dataset):
    """Whole validation images: ``{"rgb": (3, H, W) in [0, 1], "cube": (31, H, W), "name": key}``.

    ``centre_crop``: evaluate the centre ``k x k`` only (ICVL: 512, as the paper). RGB normalisation
    is the paper's per-image min-max (over the full image, before cropping).
    """

    def __init__(self, pairs: Sequence[ScenePair], cache: SceneCache | None = None, centre_crop: int | None = None,
                 rgb_normalisation: str = "minmax"):
        if not pairs:
            raise DataError("no validation scenes")
        self.pairs, self.cache, self.centre_crop, self.norm = list(pairs), cache, centre_crop, rgb_normalisation

    def __len__(self) -> int:
        return len(self.pairs)

    def _crop(self, x: np.ndarray) -> np.ndarray:
        k = self.centre_crop
        if not k:
            return x
        h, w = x.shape[-2:]
        if h < k or w < k:
            return x
        t, l = (h - k) // 2, (w - k) // 2
        return x[..., t:t + k, l:l + k]

    def __getitem__(self, i):
        from hsi.io import normalise_rgb
        pair = self.pairs[i]
        original = pair.variant == "original"
        cube = (self.cache.cube(pair.cube_path, range_check=original) if self.cache
                else read_checked_cube(pair.cube_path, range_check=original))
        raw = self.cache.rgb(pair.rgb_path) if self.cache else read_rgb_raw(pair.rgb_path)
        if raw.shape[1:] != cube.shape[1:]:
            raise DataError(f"{pair.rgb_path}: RGB size {raw.shape[1:]} differs from the cube's {cube.shape[1:]}")
        rgb = normalise_rgb(np.asarray(raw), self.norm)
        return {"rgb": torch.from_numpy(np.ascontiguousarray(self._crop(rgb))),
                "cube": torch.from_numpy(np.array(self._crop(np.asarray(cube)), dtype=np.float32)),
                "name": pair.key}
