"""File input/output: hyperspectral ``.mat`` cubes, RGB images, atomic writes and provenance."""
from .atomic import atomic_path, atomic_write_json, atomic_write_text, provenance
from .mat import DEFAULT_WAVELENGTHS_NM, WAVELENGTHS_NM, SpectralCube, SpectralFileError, read_mat_cube, write_mat_cube
from .rgb import (DEFAULT_JPEG_QUALITY, RGB_FORMATS, RGBFileError, minmax_normalise, normalise_rgb, read_rgb,
                  read_rgb_raw, write_rgb)

__all__ = [
    "atomic_path", "atomic_write_json", "atomic_write_text", "provenance",
    "DEFAULT_WAVELENGTHS_NM", "WAVELENGTHS_NM", "SpectralCube", "SpectralFileError", "read_mat_cube", "write_mat_cube",
    "DEFAULT_JPEG_QUALITY", "RGB_FORMATS", "RGBFileError", "minmax_normalise", "normalise_rgb", "read_rgb",
    "read_rgb_raw", "write_rgb",
]
