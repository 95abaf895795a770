"""The pure-PyTorch selective scan against a naive float64 recurrence (and mamba_ssm's kernel on CUDA)."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from hsi.models._selective_scan import selective_scan_fn


def naive_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Step-by-step float64 loop over batch, channel and time, written from the recurrence."""
    u, delta, A, B, C = (t.double() for t in (u, delta, A, B, C))
    batch, dim, length = u.shape
    nstate = A.shape[1]
    out = torch.zeros(batch, dim, length, dtype=torch.float64)
    last = torch.zeros(batch, dim, nstate, dtype=torch.float64)

    def mat(M, i, d, t):
        if M.dim() == 2:
            return M[d]
        if M.dim() == 3:
            return M[i, :, t]
        return M[i, d // (dim // M.shape[1]), :, t]

    for i in range(batch):
        for d in range(dim):
            h = torch.zeros(nstate, dtype=torch.float64)
            for t in range(length):
                dt = delta[i, d, t] + (delta_bias[d].double() if delta_bias is not None else 0.0)
                if delta_softplus:
                    dt = F.softplus(dt)
                h = torch.exp(dt * A[d]) * h + dt * mat(B, i, d, t) * u[i, d, t]
                y = (h * mat(C, i, d, t)).sum()
                if D is not None:
                    y = y + D[d].double() * u[i, d, t]
                if z is not None:
                    y = y * F.silu(z[i, d, t].double())
                out[i, d, t] = y
            last[i, d] = h
    return out, last


def _inputs(batch=2, dim=4, length=11, nstate=3, b_form="const", c_form="const", groups=2,
            dtype=torch.float64, seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    def form(kind):
        if kind == "const":
            return r(dim, nstate)
        if kind == "shared":
            return r(batch, nstate, length)
        return r(batch, groups, nstate, length)

    inputs = dict(
        u=r(batch, dim, length), delta=0.5 * torch.rand(batch, dim, length, generator=g, dtype=torch.float64),
        A=-torch.exp(0.5 * r(dim, nstate)), B=form(b_form), C=form(c_form),
        D=r(dim), z=r(batch, dim, length), delta_bias=0.1 * r(dim))
    return {k: v.to(device=device, dtype=dtype) for k, v in inputs.items()}


FORMS = ["const", "shared", "grouped"]


@pytest.mark.parametrize("b_form,c_form", list(itertools.product(FORMS, FORMS)))
def test_forms_of_B_and_C(b_form, c_form):
    x = _inputs(b_form=b_form, c_form=c_form)
    ref, ref_last = naive_scan(**x, delta_softplus=True)
    out, last = selective_scan_fn(**x, delta_softplus=True, return_last_state=True)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(last, ref_last, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("use_D,use_z,use_bias,softplus",
                         list(itertools.product([False, True], repeat=4)))
def test_optional_arguments(use_D, use_z, use_bias, softplus):
    x = _inputs(b_form="shared", c_form="grouped", length=9)
    kw = dict(u=x["u"], delta=x["delta"], A=x["A"], B=x["B"], C=x["C"],
              D=x["D"] if use_D else None, z=x["z"] if use_z else None,
              delta_bias=x["delta_bias"] if use_bias else None, delta_softplus=softplus)
    ref, _ = naive_scan(**kw)
    torch.testing.assert_close(selective_scan_fn(**kw), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("length,chunk", [(1, None), (7, 1), (7, 3), (16, 4), (17, 4), (17, 17), (17, 100)])
def test_any_chunk_size_gives_the_same_result(length, chunk):
    x = _inputs(length=length, b_form="grouped", c_form="shared")
    ref, ref_last = naive_scan(**x, delta_softplus=True)
    out, last = selective_scan_fn(**x, delta_softplus=True, return_last_state=True, chunk_size=chunk)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(last, ref_last, rtol=1e-10, atol=1e-10)


def test_float32_and_long_sequence_are_stable():
    # strong decays over a long sequence: cumulative products underflow, nothing may blow up
    x = _inputs(length=300, b_form="grouped", c_form="grouped", dtype=torch.float32, seed=3)
    A = x["A"] * 20
    out = selective_scan_fn(x["u"], x["delta"], A, x["B"], x["C"], x["D"], None, x["delta_bias"], True)
    ref, _ = naive_scan(x["u"], x["delta"], A, x["B"], x["C"], x["D"], None, x["delta_bias"], True)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), ref, rtol=1e-4, atol=1e-4)


def test_gradients_match_the_naive_loop():
    x = _inputs(length=8, b_form="grouped", c_form="shared")
    leaves = {k: v.clone().requires_grad_(True) for k, v in x.items()}
    out = selective_scan_fn(**leaves, delta_softplus=True)
    grads = torch.autograd.grad((out ** 2).sum(), list(leaves.values()))
    leaves_ref = {k: v.clone().requires_grad_(True) for k, v in x.items()}
    ref, _ = naive_scan(**leaves_ref, delta_softplus=True)
    grads_ref = torch.autograd.grad((ref ** 2).sum(), list(leaves_ref.values()))
    for g, gr in zip(grads, grads_ref):
        torch.testing.assert_close(g, gr, rtol=1e-9, atol=1e-9)


def test_complex_A_is_refused():
    x = _inputs()
    with pytest.raises(NotImplementedError):
        selective_scan_fn(x["u"], x["delta"], x["A"].to(torch.complex128), x["B"], x["C"])


@pytest.mark.cuda
@pytest.mark.parametrize("b_form,c_form", [("const", "const"), ("grouped", "grouped"), ("shared", "grouped")])
def test_matches_mamba_ssm_kernel(b_form, c_form):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    kernel = pytest.importorskip("mamba_ssm.ops.selective_scan_interface").selective_scan_fn
    # GMSR-like sizes: 4 directions x d_inner channels, d_state 16, grouped B/C
    x = _inputs(batch=2, dim=8, length=257, nstate=16, groups=4, b_form=b_form, c_form=c_form,
                dtype=torch.float32, seed=5, device="cuda")
    for z in (None, x["z"]):
        args = (x["u"], x["delta"], x["A"], x["B"].contiguous(), x["C"].contiguous(), x["D"], z, x["delta_bias"])
        out_k, last_k = kernel(*args, delta_softplus=True, return_last_state=True)
        out_f, last_f = selective_scan_fn(*args, delta_softplus=True, return_last_state=True)
        torch.testing.assert_close(out_f, out_k, rtol=1e-3, atol=1e-4)
        torch.testing.assert_close(last_f, last_k.float(), rtol=1e-3, atol=1e-4)
