"""The model zoo table: one row per network of the paper (CLI name -> class, constructor, learning rates,
display label, input needs, DDP flags), in the spirit of timm's ``PretrainedCfg``.

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

from hsi.errors import ToolkitError


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
        extra_input: ``None``, ``"slic"`` (hprn: SLIC label maps) or ``"srf"`` (ssrnet: camera SRF); the
            module ``build_model`` returns computes it (``hsi.models.adapter``).
        label: display name (the paper's spelling), for tables and figures.
        size_multiple: H and W the bare network needs to be divisible by; the network reflect-pads its
            input to it and crops the output back (as the public forwards do), so callers need not.
        find_unused_parameters: DistributedDataParallel must look for parameters without gradient
            (hrnet: the ``fc`` of its global blocks, kept for the checkpoint layout, gets no gradient).
        closed_form: a regression baseline fitted in closed form (``hsi.train.regression_fit``) by the
            same trainers instead of the gradient loop; not one of the paper's 17 networks.
    """

    method: str
    module: str
    class_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    lr: float = 4e-4
    lr_upstream_trainer: float = 4e-4
    extra_input: str | None = None
    label: str = ""
    size_multiple: int = 1
    find_unused_parameters: bool = False
    closed_form: bool = False


ZOO: dict[str, ModelSpec] = {
    spec.method: spec
    for spec in [
        ModelSpec("mst_plus_plus", "mst_plus_plus", "MST_Plus_Plus", {}, 4e-4, 4e-4, label="MST++", size_multiple=8),
        ModelSpec("mst", "mst", "MST", {"dim": 31, "stage": 2, "num_blocks": [4, 7, 5]}, 4e-4, 4e-4, label="MST",
                  size_multiple=8),
        ModelSpec("mirnet", "mirnet", "MIRNet", {"n_RRG": 3, "n_MSRB": 1, "height": 3, "width": 1}, 4e-4, 4e-4,
                  label="MIRNet", size_multiple=8),
        ModelSpec("hinet", "hinet", "HINet", {"depth": 4}, 2e-4, 4e-4, label="HINet", size_multiple=16),
        ModelSpec("mprnet", "mprnet", "MPRNet", {"num_cab": 4}, 2e-4, 4e-4, label="MPRNet", size_multiple=8),
        ModelSpec("restormer", "restormer", "Restormer", {}, 2e-4, 4e-4, label="Restormer", size_multiple=8),
        ModelSpec("edsr", "edsr", "EDSR", {}, 1e-4, 4e-4, label="EDSR"),
        ModelSpec("hdnet", "hdnet", "HDNet", {}, 4e-4, 4e-4, label="HDNet"),
        ModelSpec("hrnet", "hrnet", "SGN", {}, 1e-4, 4e-4, label="HRNet", size_multiple=8, find_unused_parameters=True),
        ModelSpec("hscnn_plus", "hscnn_plus", "HSCNN_Plus", {}, 2e-4, 4e-4, label="HSCNN+"),
        ModelSpec("awan", "awan", "AWAN", {}, 1e-4, 4e-4, label="AWAN"),
        ModelSpec("hysat", "hysat", "HySAT", {}, 4e-4, 4e-4, label="HySAT", size_multiple=8),
        ModelSpec("ssthyper", "ssthyper", "SSTHyper", {}, 4e-4, 4e-4, label="SSTHyper", size_multiple=8),
        ModelSpec("msfn", "msfn", "MSFN", {"stage": 2}, 4e-4, 4e-4, label="MSFN", size_multiple=32),
        ModelSpec("hprn", "hprn", "HPRN", {}, 1.2e-4, 1.2e-4, extra_input="slic", label="HPRN"),
        ModelSpec("ssrnet", "ssrnet", "CNN_BP_SE5", {}, 2e-4, 2e-4, extra_input="srf", label="SSRNet"),
        ModelSpec("gmsr", "gmsr", "GMSR", {}, 1e-4, 1e-4, label="GMSR"),
        # regression baselines (Finlayson, Mackiewicz & Hurlbert 2015; Lin & Finlayson 2021), fitted by ridge
        ModelSpec("linear", "regression", "RootPolynomialRegression", {"degree": 1}, label="Linear",
                  closed_form=True),
        ModelSpec("rpr2", "regression", "RootPolynomialRegression", {"degree": 2}, label="RPR-2", closed_form=True),
        ModelSpec("rpr3", "regression", "RootPolynomialRegression", {"degree": 3}, label="RPR-3", closed_form=True),
    ]
}

METHODS: tuple[str, ...] = tuple(ZOO)
"""Every method ``--method`` accepts: the 17 networks, then the regression baselines."""
NETWORKS: tuple[str, ...] = tuple(m for m, s in ZOO.items() if not s.closed_form)
"""The paper's 17 networks (checkpoint layouts of the public implementations)."""
BASELINES: tuple[str, ...] = tuple(m for m, s in ZOO.items() if s.closed_form)
"""The closed-form regression baselines (``linear``, ``rpr2``, ``rpr3``)."""


class UnknownMethodError(ToolkitError, ValueError):
    """Raised for a method name that is not in the zoo; the message lists the valid names."""


def get_spec(method: str) -> ModelSpec:
    """Return the zoo row of ``method`` (case-insensitive), or raise ``UnknownMethodError``."""
    key = str(method).strip().lower()
    if key not in ZOO:
        raise UnknownMethodError(
            f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    return ZOO[key]


def method_label(method: str) -> str:
    """Display name of ``method`` (``"mst_plus_plus"`` -> ``"MST++"``); a name outside the zoo is returned
    unchanged (tables may hold runs of methods the zoo no longer has)."""
    key = str(method).strip().lower()
    return ZOO[key].label if key in ZOO else str(method)
