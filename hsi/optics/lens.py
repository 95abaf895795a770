"""Double Gauss 50 mm F/1.8: on-axis PSFs from a real ray trace (rayoptics) plus diffraction.

Prescription: "Double Gauss F/2 - Available Glasses", a CODE V sample lens (EFL 100 mm, EPD 50 mm,
six elements, all spherical, SCHOTT N-SSK2, N-SK2, F5, N-SK16, stop between the two groups),
as shipped by ray-optics in ``rayoptics/codev/tests/ag_dblgauss.seq`` (the same prescription is
optiland's ``samples.objectives.DoubleGauss``). It is reproduced in ``PRESCRIPTION`` below, scaled
so that the effective focal length at 587.6 nm is ``focal_length_mm`` (50 mm) and traced at an
entrance pupil of ``focal_length_mm / f_number`` (F/1.8, slightly faster than the design's F/2).

Pipeline (``double_gauss_psf``):

1. Build the lens in ray-optics (``rayoptics.optical.opticalmodel.OpticalModel``) with glass data
   from its ``opticalglass`` SCHOTT catalogue (real dispersion per band).
2. Trace a meridional fan of ``n_rays`` real rays on axis at each of the 31 band centres.
3. Choose the image plane for the best polychromatic image: the focus shift (from the nominal
   image distance, the prescription's last thickness scaled) that minimises the photopically weighted mean of the squared RMS wavefront
   error in waves, ``sum_b V(lambda_b) (sigma_b / lambda_b)^2`` (maximum luminance-weighted Strehl
   ratio in Marechal's approximation), by bounded scalar minimisation (ray-optics refocuses its
   fans without retracing).
4. Take each band's wavefront (OPD against the reference sphere centred on the on-axis image point
   of the chosen plane, ray-optics' ``wave_abr`` after Hopkins), interpolate it over the pupil radius
   by a cubic spline, and diffract it: ``hsi.optics.diffraction.psf_from_radial_pupil`` (Debye
   integral of the rotationally symmetric pupil, uniform amplitude, sine-condition mapping with
   NA = 1/(2 F#)), pixel-integrated at the sensor pitch.

ray-optics and opticalglass are optional (``requirements-optics.txt``); this module imports them only
when called and raises ``ImportError`` with instructions when they are missing.
"""
from __future__ import annotations

import warnings

import numpy as np

from .diffraction import (SENSOR_PITCH_UM, WAVELENGTHS_NM, finalise, library_versions, na_from_f_number,
                          oversampling, psf_from_radial_pupil)

__all__ = ["PRESCRIPTION", "rayoptics_available", "build_double_gauss", "double_gauss_wavefronts",
           "double_gauss_psf", "DEFAULTS"]

#: The CODE V "Double Gauss F/2 - Available Glasses" sample (rayoptics ``ag_dblgauss.seq``), unscaled.
#: Surfaces after the object: curvature (1/mm), thickness to the next surface (mm), glass after the
#: surface (SCHOTT catalogue name, None = air). The stop is surface index 5 (0-based in this list).
PRESCRIPTION = {
    "source": ("CODE V sample lens 'Double Gauss F/2 - Available Glasses' (EFL 100 mm, EPD 50 mm), as shipped "
               "in ray-optics 0.9.8: rayoptics/codev/tests/ag_dblgauss.seq"),
    "curvatures_per_mm": [0.01779284094091543, 0.006566600536925569, 0.02653743294670983, 0.0,
                          0.04126892878570084, 0.0, -0.03523942654429074, 0.0, -0.02636750828657709,
                          0.005636604951748545, -0.0125926458590576],
    "thicknesses_mm": [8.75, 0.5, 12.5, 3.8, 16.36944492653564, 13.74795696388906, 3.8, 11.0, 0.5, 7.0,
                       61.4875364179821],
    "glasses": ["N-SSK2", None, "N-SK2", "F5", None, None, "F5", "N-SK16", None, "N-SK16", None],
    "catalog": "Schott",
    "stop_index": 5,
    "design_efl_mm": 100.0,
    "design_epd_mm": 50.0,
}

DEFAULTS = dict(focal_length_mm=50.0, f_number=1.8, n_rays=129, n_rho=1024, efl_wavelength_nm=587.6,
                focus_weighting="photopic")

#: CIE 1924 photopic luminous efficiency V(lambda) at ``WAVELENGTHS_NM`` (400-700 nm in 10 nm steps) (CIE 018:2019 table;
#: identical to colour-science's ``SDS_LEFS['CIE 1924 Photopic Standard Observer']``).
PHOTOPIC_V = np.array([0.000396, 0.00121, 0.004, 0.0116, 0.023, 0.038, 0.06, 0.09098, 0.13902, 0.20802, 0.323,
                       0.503, 0.71, 0.862, 0.954, 0.99495, 0.995, 0.952, 0.87, 0.757, 0.631, 0.503, 0.381, 0.265,
                       0.175, 0.107, 0.061, 0.032, 0.017, 0.00821, 0.004102])


def focus_weights(wavelengths_nm, weighting: str) -> np.ndarray:
    """Band weights of the best-focus criterion: ``"photopic"`` (V(lambda)) or ``"equal"``."""
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    if weighting == "equal":
        w = np.ones_like(wl)
    elif weighting == "photopic":
        w = np.interp(wl, WAVELENGTHS_NM, PHOTOPIC_V)
    else:
        raise ValueError(f"focus weighting must be 'photopic' or 'equal', got {weighting!r}")
    return w / w.sum()


def rayoptics_available() -> bool:
    """True when ray-optics and opticalglass can be imported."""
    try:
        import opticalglass  # noqa: F401
        import rayoptics  # noqa: F401
    except ImportError:
        return False
    return True


def _import_rayoptics():
    try:
        from rayoptics.optical.opticalmodel import OpticalModel
        from rayoptics.raytr import analyses
        from rayoptics.raytr.opticalspec import FieldSpec, PupilSpec, WvlSpec
    except ImportError as e:
        raise ImportError("the double Gauss PSF needs ray-optics and opticalglass: "
                          "pip install --no-deps -r requirements-optics.txt") from e
    return OpticalModel, analyses, FieldSpec, PupilSpec, WvlSpec


def build_double_gauss(wavelengths_nm, reference_nm: float, scale: float, epd_mm: float):
    """The ray-optics model of ``PRESCRIPTION`` scaled by ``scale``, entrance pupil ``epd_mm``, on-axis
    field, wavelengths ``wavelengths_nm`` (equal weights), reference (central) wavelength
    ``reference_nm`` (must be one of them)."""
    OpticalModel, _, FieldSpec, PupilSpec, WvlSpec = _import_rayoptics()
    with warnings.catch_warnings():
        # opticalglass reads its catalogues with pandas calls that pandas 3 deprecates
        warnings.filterwarnings("ignore", module=r"opticalglass(\..*)?$")
        return _build(OpticalModel, FieldSpec, PupilSpec, WvlSpec, wavelengths_nm, reference_nm, scale, epd_mm)


def _build(OpticalModel, FieldSpec, PupilSpec, WvlSpec, wavelengths_nm, reference_nm, scale, epd_mm):
    wl = [float(v) for v in wavelengths_nm]
    opm = OpticalModel()
    sm, osp = opm["seq_model"], opm["optical_spec"]
    osp["pupil"] = PupilSpec(osp, key=["object", "epd"], value=float(epd_mm))
    osp["fov"] = FieldSpec(osp, key=["object", "angle"], flds=[0.0])
    osp["wvls"] = WvlSpec([(w, 1.0) for w in wl], ref_wl=wl.index(float(reference_nm)))
    opm.radius_mode = True
    sm.gaps[0].thi = 1e10
    p = PRESCRIPTION
    for i, (c, t, g) in enumerate(zip(p["curvatures_per_mm"], p["thicknesses_mm"], p["glasses"])):
        r = scale / c if c != 0.0 else 0.0
        sm.add_surface([r, t * scale] if g is None else [r, t * scale, g, p["catalog"]])
        if i == p["stop_index"]:
            sm.set_stop()
    opm.update_model()
    return opm


def _efl(opm) -> float:
    return float(opm["analysis_results"]["parax_data"].fod.efl)


def double_gauss_wavefronts(wavelengths_nm=WAVELENGTHS_NM, *, focal_length_mm: float = DEFAULTS["focal_length_mm"],
                            f_number: float = DEFAULTS["f_number"], n_rays: int = DEFAULTS["n_rays"],
                            efl_wavelength_nm: float = DEFAULTS["efl_wavelength_nm"],
                            focus_weighting: str = DEFAULTS["focus_weighting"]) -> dict:
    """Trace the scaled double Gauss and return its best-focus on-axis wavefronts.

    Returns a dict: ``rho`` (fan samples, normalised pupil radius in [-1, 1]), ``opd_nm``
    (bands, n_rays), ``rms_spot_um`` and ``rms_wfe_nm`` (bands,) at best focus, ``band_weights``,
    ``focus_shift_mm`` (from the nominal image distance), ``image_distance_mm`` (last surface to
    image), ``scale``, ``efl_mm`` at ``efl_wavelength_nm`` and at the reference 550 nm, ``epd_mm``,
    ``paraxial_f_number``.
    """
    from scipy.optimize import minimize_scalar

    _, analyses, *_ = _import_rayoptics()
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    if n_rays % 2 == 0:
        raise ValueError("n_rays must be odd (a ray through the pupil centre)")
    epd = focal_length_mm / f_number
    # scale the design so that the EFL at efl_wavelength_nm equals focal_length_mm
    probe = build_double_gauss([efl_wavelength_nm], efl_wavelength_nm, 1.0, PRESCRIPTION["design_epd_mm"])
    scale = focal_length_mm / _efl(probe)
    ref = 550.0 if 550.0 in wl else float(wl[len(wl) // 2])
    check = build_double_gauss([efl_wavelength_nm], efl_wavelength_nm, scale, epd)
    opm = build_double_gauss(wl, ref, scale, epd)
    fans = [analyses.RayFan(opm, f=0, wl=float(w), foc=0.0, num_rays=n_rays, xyfan="y") for w in wl]

    from scipy.interpolate import CubicSpline
    from scipy.special import roots_legendre

    rho = np.linspace(-1.0, 1.0, n_rays)
    # pupil-area averages over the unit disc, int_0^1 g(rho) 2 rho drho, by Gauss-Legendre quadrature of
    # the cubic spline through the fan samples (converges much faster than sums over the samples)
    xq, wq = roots_legendre(64)
    rho_q = 0.5 * (xq + 1.0)
    wts = wq * rho_q                                           # 0.5 * wq * 2 rho_q; sums to 1

    def disc_average(samples):                                 # (bands, n_rays) -> values at rho_q
        return CubicSpline(rho, samples, axis=1)(rho_q)

    def fan_arrays(fan):
        data = fan.fan
        if len(data) != n_rays or any(not isinstance(d[1], tuple) for d in data):
            raise RuntimeError("some rays of the double Gauss fan failed to trace")
        ty = np.array([d[1][1] for d in data])                 # transverse aberration (mm)
        opd = np.array([d[1][2] for d in data])                # waves of the reference wavelength
        return ty, opd

    band_w = focus_weights(wl, focus_weighting)

    def at_focus(foc):
        """Per band: OPD (nm) over the fan and RMS spot radius (um) at focus shift ``foc`` (mm)."""
        opds, spots = [], []
        for fan in fans:
            fan.foc = float(foc)
            fan.update_data(build="refocus")
            ty, opd = fan_arrays(fan)
            opds.append(opd * ref)
            spots.append(ty)
        ty_q = disc_average(np.array(spots))
        return np.array(opds), np.sqrt((ty_q ** 2 * wts).sum(axis=1)) * 1e3

    def rms_wfe_nm(opds):
        o = disc_average(opds)
        mean = (o * wts).sum(axis=1, keepdims=True)
        return np.sqrt(((o - mean) ** 2 * wts).sum(axis=1))

    def objective(foc):          # weighted mean squared RMS wavefront error in waves (Marechal)
        return float(np.sum(band_w * (rms_wfe_nm(at_focus(foc)[0]) / wl) ** 2))

    res = minimize_scalar(objective, bounds=(-1.0, 1.0), method="bounded", options={"xatol": 1e-6})
    foc = float(res.x)
    opd_nm, rms = at_focus(foc)
    fod = opm["analysis_results"]["parax_data"].fod
    return {
        "rho": rho, "opd_nm": opd_nm, "rms_spot_um": rms, "rms_wfe_nm": rms_wfe_nm(opd_nm),
        "band_weights": band_w,
        "focus_shift_mm": foc, "image_distance_mm": float(opm["seq_model"].gaps[-1].thi) + foc,
        "scale": scale, "efl_mm": _efl(check), "efl_mm_at_reference": float(fod.efl), "reference_nm": ref,
        "epd_mm": epd, "paraxial_f_number": float(fod.fno),
    }


def double_gauss_psf(wavelengths_nm=WAVELENGTHS_NM, pitch_um: float = SENSOR_PITCH_UM, *,
                     focal_length_mm: float = DEFAULTS["focal_length_mm"], f_number: float = DEFAULTS["f_number"],
                     n_rays: int = DEFAULTS["n_rays"], n_rho: int = DEFAULTS["n_rho"],
                     efl_wavelength_nm: float = DEFAULTS["efl_wavelength_nm"],
                     focus_weighting: str = DEFAULTS["focus_weighting"],
                     window_px: int | None = None) -> tuple[np.ndarray, dict]:
    """On-axis PSF stack of the double Gauss. Returns ``(kernel (bands, h, w) float32 normalised, meta)``.

    ``meta['focus_wavelength_nm']`` is the band whose PSF has the smallest RMS radius at the chosen
    image plane (the wavelength best in focus); the plane itself is polychromatic (see the module
    docstring).
    """
    from scipy.interpolate import CubicSpline

    from .measure import rms_radius_px

    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    wf = double_gauss_wavefronts(wl, focal_length_mm=focal_length_mm, f_number=f_number, n_rays=n_rays,
                                 efl_wavelength_nm=efl_wavelength_nm, focus_weighting=focus_weighting)
    na = na_from_f_number(f_number)
    s = oversampling(pitch_um, f_number, float(wl.min()))
    if window_px is None:
        # geometric blur (2x the largest RMS spot) plus diffraction tails (30 lambda F#)
        reach_um = 2.0 * wf["rms_spot_um"].max() + 30.0 * wl.max() * 1e-3 * f_number
        window_px = 2 * int(np.ceil(reach_um / pitch_um)) + 1
    shape = (window_px, window_px)
    energy = np.empty((wl.size,) + shape)
    totals = np.empty(wl.size)
    for b, lam in enumerate(wl):
        spline = CubicSpline(wf["rho"], wf["opd_nm"][b])

        def pupil(rho, spline=spline, lam=lam):
            return np.exp(2j * np.pi * spline(rho) / lam)

        energy[b], totals[b] = psf_from_radial_pupil(pupil, na, lam, shape, pitch_um, s, n_rho=n_rho)
    p = PRESCRIPTION
    meta = {
        "name": f"double_gauss_{focal_length_mm:g}mm_F{f_number:g}",
        "design": "double Gauss, six spherical elements, SCHOTT glasses",
        "description": (f"CODE V 'Double Gauss F/2 - Available Glasses' scaled to EFL {focal_length_mm:g} mm at "
                        f"{efl_wavelength_nm:g} nm and opened to F/{f_number:g}; on-axis PSF per band from the "
                        "ray-traced wavefront at the best polychromatic focus, by diffraction."),
        "prescription_source": p["source"],
        "model": ("real ray trace of a meridional fan (ray-optics) -> OPD against the reference sphere -> scalar "
                  "Debye diffraction of the rotationally symmetric pupil (Hankel transform), pixel-integrated"),
        "focal_length_mm": round(wf["efl_mm"], 6),
        "f_number": f_number,
        "focus_wavelength_nm": None,
        "focus_criterion": (f"image plane minimising sum_b w_b (sigma_b / lambda_b)^2, sigma_b the RMS wavefront error "
                            f"of band b, weights w = {focus_weighting} (photopic: CIE 1924 V(lambda)); i.e. maximum "
                            "weighted Strehl ratio (Marechal). focus_wavelength_nm: the band whose PSF has the "
                            "smallest RMS radius at that plane"),
        "parameters": {
            "scale_factor_from_design": round(wf["scale"], 9),
            "efl_wavelength_nm": efl_wavelength_nm,
            "efl_mm_at_550nm": round(wf["efl_mm_at_reference"], 6),
            "entrance_pupil_diameter_mm": round(wf["epd_mm"], 6),
            "paraxial_f_number_at_550nm": round(wf["paraxial_f_number"], 6),
            "focus_shift_from_nominal_image_distance_mm": round(wf["focus_shift_mm"], 6),
            "last_surface_to_image_mm": round(wf["image_distance_mm"], 6),
            "curvatures_per_mm_unscaled": p["curvatures_per_mm"],
            "thicknesses_mm_unscaled": p["thicknesses_mm"],
            "glasses": [g if g else "air" for g in p["glasses"]],
            "glass_catalog": "SCHOTT (opticalglass)",
            "stop_surface_index": p["stop_index"],
            "apertures": "clear apertures sized by ray-optics to pass the on-axis F/1.8 beam (no vignetting on axis)",
            "n_rays_fan": n_rays,
            "n_rho": n_rho,
            "oversample": s,
            "focus_weighting": focus_weighting,
            "rms_wavefront_error_nm": [round(float(v), 4) for v in wf["rms_wfe_nm"]],
            "rms_spot_radius_um": [round(float(v), 4) for v in wf["rms_spot_um"]],
        },
        "library": {"name": "rayoptics", "version": library_versions("rayoptics", "opticalglass", "numpy", "scipy")},
    }
    kernel, meta = finalise(energy, totals, meta, pitch_um, wl)
    radii = np.array([rms_radius_px(k) for k in kernel])
    meta["focus_wavelength_nm"] = float(wl[int(np.argmin(radii))])
    meta["parameters"]["rms_radius_px"] = [round(float(v), 4) for v in radii]
    return kernel, meta
