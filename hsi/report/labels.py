"""Display order of the zoo's methods; their display names are the registry's (``hsi.models.method_label``)."""
from __future__ import annotations

from hsi.models import METHODS, method_label  # noqa: F401  (re-exported for the report modules)


def method_order(method: str) -> tuple[int, str]:
    """Sort key: the zoo's order (``hsi.models.METHODS``), unknown methods after it by name."""
    return (METHODS.index(method), "") if method in METHODS else (len(METHODS), method)
