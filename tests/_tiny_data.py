"""A tiny dataset in the paper's layout, made with the library's own functions (for the engine tests)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hsi.camera import load_srf
from hsi.io import write_mat_cube, write_rgb
from hsi.metamer import make_metamer
from hsi.render import RenderConfig, make_generators, render_rgb, scene_seed


def smooth_scene(seed: int, size: int) -> np.ndarray:
    """``(31, size, size)`` float32 in [0, 1]: a few smooth-spectrum blobs on a smooth background."""
    g = np.random.default_rng(seed)
    wl = np.linspace(0, 1, 31)[:, None, None]
    yy, xx = np.mgrid[0:size, 0:size] / size
    cube = np.zeros((31, size, size))
    for _ in range(6):
        cy, cx, r = g.random(3) * [1, 1, 0.4] + [0, 0, 0.15]
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2).astype(float)
        spec = 0.2 + 0.8 * np.exp(-((wl - g.random()) / (0.1 + 0.3 * g.random())) ** 2)
        cube = np.where(mask[None] > 0, spec * (0.5 + 0.5 * g.random()), cube)
    cube += 0.05 + 0.05 * xx[None]
    return (cube / cube.max()).astype(np.float32)


def make_tiny_dataset(root: Path, name: str = "SYNTH", n_train: int = 3, n_valid: int = 2, size: int = 40,
                      npe: int = 0) -> Path:
    """``root/<name>/{Train_Spec, Train_RGB, split_txt, poisson<npe>_None/...}``; returns ``root``."""
    ds = root / name
    srf = torch.from_numpy(load_srf())
    names = [f"scene_{i:02d}" for i in range(n_train + n_valid)]
    (ds / "split_txt").mkdir(parents=True, exist_ok=True)
    (ds / "split_txt" / "train_list.txt").write_text("".join(f"{n}\n" for n in names[:n_train]))
    (ds / "split_txt" / "valid_list.txt").write_text("".join(f"{n}\n" for n in names[n_train:]))
    gen = ds / f"poisson{npe}_None"
    cfg = RenderConfig(npe=npe)
    for i, n in enumerate(names):
        cube = smooth_scene(i, size)
        write_mat_cube(ds / "Train_Spec" / f"{n}.mat", cube)
        t = torch.from_numpy(cube)[None]
        met = make_metamer(t, srf, 0.0, "clip").cube
        write_mat_cube(gen / "Train_Metamer_Spec" / f"{n}_metamer.mat", met[0].numpy())
        for variant, c in (("original", t), ("metamer", met)):
            res = render_rgb(c, srf, None, cfg, generator=make_generators([scene_seed(0, n, variant)]))
            write_rgb(gen / "Train_Metamer_RGB" / f"{n}_{variant}.png", res.to_uint()[0])
        write_rgb(ds / "Train_RGB" / f"{n}.jpg", render_rgb(t, srf, None, cfg).to_uint()[0])
    return root
