"""hsi: the shared library of the optics-aware spectral reconstruction toolkit.

Modules: ``hsi.io`` (files), ``hsi.camera`` (spectral responses), ``hsi.optics`` (PSFs),
``hsi.render`` (image formation), ``hsi.metamer`` (metameric black), ``hsi.metrics``,
``hsi.models`` (network zoo), ``hsi.predict`` (a user's own photos). Conventions: cubes ``(31, H, W)``
float32 on disk and ``(N, 31, H, W)`` in tensors, RGB ``(N, 3, H, W)``, wavelengths explicit in nm.

The main functions are importable from ``hsi`` itself, loaded on first use so that ``import hsi``
stays cheap: ``hsi.reconstruct(rgb, method="mst_plus_plus", weights="w.pth")``, ``hsi.read_photo``, ``hsi.render_rgb``,
``hsi.make_metamer``, ``hsi.build_model``, ``hsi.load_psf``, ``hsi.load_srf``, ``hsi.load_camera``,
``hsi.read_mat_cube``, ``hsi.write_mat_cube``, ``hsi.read_rgb``, ``hsi.write_rgb``, ``hsi.compute_metrics``.
"""
__version__ = "0.1.0"

_LAZY = {
    "reconstruct": "hsi.predict",
    "read_photo": "hsi.predict",
    "render_rgb": "hsi.render",
    "make_metamer": "hsi.metamer",
    "build_model": "hsi.models",
    "load_psf": "hsi.optics",
    "load_srf": "hsi.camera",
    "load_camera": "hsi.camera",
    "read_mat_cube": "hsi.io",
    "write_mat_cube": "hsi.io",
    "read_rgb": "hsi.io",
    "write_rgb": "hsi.io",
    "compute_metrics": "hsi.metrics",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    """Import the function ``name`` from its module on first use (PEP 562)."""
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hsi' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
