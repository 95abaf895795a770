"""One process of a two-process co-design run (launched by tests/test_codesign.py under torchrun, gloo).

Usage: ``torchrun --nproc_per_node=2 tests/_codesign_ddp_worker.py <dataset_path> <result_root> <state_dir>``.
Rank 1 perturbs its element before the setup (rank 0's must reach it by the broadcast); at the end every
rank saves its element's state to ``<state_dir>/optics_rank<r>.pt`` for the test to compare.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from hsi.train.codesign import CodesignOptions, CodesignTrainingOptions, codesign_trainer
from hsi.train.options import EngineOptions, OnTheFlyOptions, TrainingOptions


def main(dataset_path: str, result_root: str, state_dir: str) -> None:
    t = TrainingOptions(mode="onthefly", dataset_path=dataset_path, dataset_name="SYNTH", method="mst_plus_plus",
                        result_root=result_root, npe=1000, num_epochs=1, per_epoch_iteration=6, batch_size=4,
                        crop_size=16, stride=8, log_freq=3, valid_freq=3, save_freq=3,
                        onthefly=OnTheFlyOptions(srf_path="basler_a2A5320-23ucBAS"),
                        engine=EngineOptions(device="cpu", num_workers=0))
    opts = CodesignTrainingOptions(training=t, codesign=CodesignOptions(psf_size=9, doe_grid=48, optics_lr=5e-2))
    trainer, done = codesign_trainer(opts)
    assert done is None, "the test's run folder must be new"
    rank = int(os.environ["RANK"])
    if rank == 1:
        with torch.no_grad():
            for p in trainer.optics.parameters():
                p.add_(torch.randn_like(p))
    trainer.setup().fit()
    torch.save({k: v.detach().clone() for k, v in trainer.optics.state_dict().items()},
               Path(state_dir) / f"optics_rank{rank}.pt")


if __name__ == "__main__":
    main(*sys.argv[1:4])
