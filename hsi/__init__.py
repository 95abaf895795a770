"""hsi: the shared library of the optics-aware spectral reconstruction toolkit.

Modules: ``hsi.io`` (files), ``hsi.camera`` (spectral responses), ``hsi.optics`` (PSFs),
``hsi.render`` (image formation), ``hsi.metamer`` (metameric black), ``hsi.metrics``,
``hsi.models`` (network zoo). Conventions: cubes ``(31, H, W)`` float32 on disk and
``(N, 31, H, W)`` in tensors, RGB ``(N, 3, H, W)``, wavelengths explicit in nm.
"""
__version__ = "0.1.0"
