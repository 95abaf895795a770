"""hsi.optics.learned: learnable diffractive optics whose forward() is the ``(31, h, w)`` PSF.

    from hsi.optics.learned import DOEOptions, HeightMapDOE, export_psf
    doe = HeightMapDOE(DOEOptions(levels=16), init="flat")     # 50 mm F/1.8, 2.74 um: Airy PSFs
    psf = doe()                                                # (31, 81, 89), each band sums to 1
    loss = task_loss(psf) + 1e-2 * doe.smoothness_penalty()    # differentiable w.r.t. doe.raw
    export_psf(doe, "PSFs/learned_doe.npz", provenance)        # load_psf("learned_doe") reads it

``fraunhofer``: the torch port of ``hsi.optics.diffraction.psf_from_pupil`` (batched over bands);
``elements``: ``HeightMapDOE``, ``RadialDOE`` and their ``DOEOptions``; ``export``: the shipped PSF
format, rebuilding from it, and a figure. See docs/learned_optics.md.
"""
from __future__ import annotations

from .elements import (INITS, DOEOptions, HeightMapDOE, PhaseSamplingError, RadialDOE, quantise_ste,
                       rotation_height_map_um, two_pi_height_um)
from .export import export_psf, load_element, load_element_state, plot_element
from .fraunhofer import (DFTMatrices, OTFMatrices, dft_matrices, normalise_bands_torch, otf_matrices,
                         psf_from_pupil_otf, psf_from_pupil_torch)

__all__ = ["DOEOptions", "HeightMapDOE", "RadialDOE", "PhaseSamplingError", "INITS", "quantise_ste",
           "rotation_height_map_um", "two_pi_height_um", "export_psf", "load_element", "load_element_state",
           "plot_element", "DFTMatrices", "dft_matrices", "psf_from_pupil_torch", "OTFMatrices", "otf_matrices",
           "psf_from_pupil_otf", "normalise_bands_torch"]
