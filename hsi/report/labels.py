"""Display names and the display order of the zoo's methods.

TO BE REPLACED at merge by the model registry: ``hsi.models.method_label(method)`` (the trainer helper
adds each method's label to its registry entry); then this module keeps ``method_order`` only and
``method_label`` becomes an import.
"""
from __future__ import annotations

from hsi.models import METHODS

METHOD_LABELS = {
    "mst_plus_plus": "MST++", "mst": "MST", "mirnet": "MIRNet", "hinet": "HINet", "mprnet": "MPRNet",
    "restormer": "Restormer", "edsr": "EDSR", "hdnet": "HDNet", "hrnet": "HRNet", "hscnn_plus": "HSCNN+",
    "awan": "AWAN", "hysat": "HySAT", "ssthyper": "SSTHyper", "msfn": "MSFN", "hprn": "HPRN", "ssrnet": "SSRNet",
    "gmsr": "GMSR",
}
"""Display names of the zoo's methods (the paper's spelling); CSV files keep the CLI names."""


def method_label(method: str) -> str:
    """The paper's spelling of ``method`` (``mst_plus_plus`` -> ``MST++``); unknown methods as given."""
    return METHOD_LABELS.get(method, method)


def method_order(method: str) -> tuple[int, str]:
    """Sort key: the zoo's order (``hsi.models.METHODS``), unknown methods after it by name."""
    return (METHODS.index(method), "") if method in METHODS else (len(METHODS), method)
