"""The model zoo table: one row per network of the paper (CLI name -> class, constructor, learning rates).

Each network lives in its own module of this package, written after the public implementation so that
its ``state_dict`` has exactly the published layout (``tests/data/model_manifests.json``).

Learning rates:

* ``lr``: the per-method rate of the MST++ toolbox README table (= the paper code's top-level
  ``learning_rates_dict``); this is the default of ``--init_lr`` in the toolkit's trainers.
* ``lr_upstream_trainer``: what the paper's modified MST++ trainer actually used
  (``train_code/utils.py: learning_rates_dict``, 4e-4 for 14 of 17 methods), kept for reproducing it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """One row of the zoo.

    Attributes:
        method: CLI name (``--method``).
        module: module of ``hsi.models`` that defines the class.
        class_name: class name of the public implementation (checkpoint compatibility).
        kwargs: constructor arguments of the paper's ``model_generator``.
        lr: default initial learning rate (MST++ toolbox README table).
        lr_upstream_trainer: learning rate used by the paper's MST++ trainer.
        extra_input: ``None``, ``"slic"`` (hprn: SLIC label maps) or ``"srf"`` (ssrnet: camera SRF).
        size_multiple: H and W the bare network needs to be divisible by (padding is done inside).
    """

    method: str
    module: str
    class_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    lr: float = 4e-4
    lr_upstream_trainer: float = 4e-4
    extra_input: str | None = None


ZOO: dict[str, ModelSpec] = {
    spec.method: spec
    for spec in [
        ModelSpec("mst_plus_plus", "mst_plus_plus", "MST_Plus_Plus", {}, 4e-4, 4e-4),
        ModelSpec("mst", "mst", "MST", {"dim": 31, "stage": 2, "num_blocks": [4, 7, 5]}, 4e-4, 4e-4),
        ModelSpec("mirnet", "mirnet", "MIRNet", {"n_RRG": 3, "n_MSRB": 1, "height": 3, "width": 1}, 4e-4, 4e-4),
        ModelSpec("hinet", "hinet", "HINet", {"depth": 4}, 2e-4, 4e-4),
        ModelSpec("mprnet", "mprnet", "MPRNet", {"num_cab": 4}, 2e-4, 4e-4),
        ModelSpec("restormer", "restormer", "Restormer", {}, 2e-4, 4e-4),
        ModelSpec("edsr", "edsr", "EDSR", {}, 1e-4, 4e-4),
        ModelSpec("hdnet", "hdnet", "HDNet", {}, 4e-4, 4e-4),
        ModelSpec("hrnet", "hrnet", "SGN", {}, 1e-4, 4e-4),
        ModelSpec("hscnn_plus", "hscnn_plus", "HSCNN_Plus", {}, 2e-4, 4e-4),
        ModelSpec("awan", "awan", "AWAN", {}, 1e-4, 4e-4),
        ModelSpec("hysat", "hysat", "HySAT", {}, 4e-4, 4e-4),
        ModelSpec("ssthyper", "ssthyper", "SSTHyper", {}, 4e-4, 4e-4),
        ModelSpec("msfn", "msfn", "MSFN", {"stage": 2}, 4e-4, 4e-4),
        ModelSpec("hprn", "hprn", "HPRN", {}, 1.2e-4, 1.2e-4, extra_input="slic"),
        ModelSpec("ssrnet", "ssrnet", "CNN_BP_SE5", {}, 2e-4, 2e-4, extra_input="srf"),
        ModelSpec("gmsr", "gmsr", "GMSR", {}, 1e-4, 1e-4),
    ]
}

METHODS: tuple[str, ...] = tuple(ZOO)
