import numpy as np
import pytest
import torch

from hsi.device import configure_cpu_threads

configure_cpu_threads()  # OMP_NUM_THREADS if set, else the idle cores (at least 1)


@pytest.fixture
def smooth_cube():
    """(2, 31, 24, 20) float32 cube of smooth non-negative spectra in [0, 1] (Gaussian bumps + floor)."""
    g = torch.Generator().manual_seed(0)
    wl = torch.linspace(0, 1, 31).view(1, 31, 1, 1)
    centre = torch.rand(2, 1, 24, 20, generator=g)
    width = 0.15 + 0.3 * torch.rand(2, 1, 24, 20, generator=g)
    amp = 0.2 + 0.8 * torch.rand(2, 1, 24, 20, generator=g)
    cube = amp * torch.exp(-((wl - centre) / width) ** 2) + 0.02
    return (cube / cube.amax()).float()


@pytest.fixture
def basler_srf():
    from hsi.camera import load_srf
    return torch.from_numpy(load_srf())


@pytest.fixture
def rng():
    return np.random.default_rng(0)
