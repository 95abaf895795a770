"""Refractive indices of the few optical materials the numpy-only designs need (Sellmeier fits).

The double Gauss lens takes its glasses from the optics library's catalogues (``hsi.optics.lens``);
the grating, the rotation encoder and the singlet use the two materials below, so that they can be
regenerated with numpy alone.

Sellmeier form: n(lambda)^2 = 1 + sum_i B_i lambda^2 / (lambda^2 - C_i), lambda in um, C_i in um^2.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SELLMEIER", "refractive_index"]

#: Sellmeier coefficients ``(B1, B2, B3), (C1, C2, C3)`` with C in um^2, and their sources.
SELLMEIER: dict[str, dict] = {
    "N-BK7": {
        "B": (1.03961212, 0.231792344, 1.01046945),
        "C": (0.00600069867, 0.0200179144, 103.560653),
        "source": "SCHOTT optical glass data sheet, N-BK7 (517642.251)",
    },
    "fused_silica": {
        "B": (0.6961663, 0.4079426, 0.8974794),
        "C": (0.0684043 ** 2, 0.1162414 ** 2, 9.896161 ** 2),
        "source": "I. H. Malitson, 'Interspecimen comparison of the refractive index of fused silica', "
                  "J. Opt. Soc. Am. 55, 1205 (1965)",
    },
}


def refractive_index(material: str, wavelength_nm: float | np.ndarray) -> np.ndarray:
    """Refractive index of ``material`` (a key of ``SELLMEIER``) at ``wavelength_nm``."""
    try:
        coeffs = SELLMEIER[material]
    except KeyError:
        raise KeyError(f"unknown material {material!r}; known: {sorted(SELLMEIER)}") from None
    lam2 = (np.asarray(wavelength_nm, dtype=np.float64) * 1e-3) ** 2
    n2 = 1.0 + sum(b * lam2 / (lam2 - c) for b, c in zip(coeffs["B"], coeffs["C"]))
    return np.sqrt(n2)
