"""Pure-PyTorch selective scan (the S6 recurrence of Mamba), a drop-in for ``mamba_ssm``'s kernel.

``selective_scan_fn`` here has the signature and the semantics of
``mamba_ssm.ops.selective_scan_interface.selective_scan_fn`` (Gu & Dao, "Mamba: Linear-Time Sequence
Modeling with Selective State Spaces", 2023; public implementation state-spaces/mamba), for real ``A``:

    delta'  = softplus(delta + delta_bias)            (bias and softplus optional)
    h_t     = exp(delta'_t * A) * h_{t-1} + delta'_t * B_t * u_t      h_{-1} = 0, per (batch, channel)
    y_t     = <h_t, C_t> + D * u_t                    (D optional)
    out     = y * silu(z)                             (z optional)

It is written for devices without the CUDA extension (CPU, or a GPU where ``mamba-ssm`` is not
installed). The recurrence is evaluated in chunks: inside a chunk the steps run sequentially but for all
chunks at once, then the chunk-end states are carried across chunks, and finally the carried state is
propagated into every position with the chunk's cumulative decay. That needs about ``2 * sqrt(L)``
Python-level steps instead of ``L`` and only multiplies by decays ``exp(delta * A)``, so it is as stable
as the plain recurrence. Gradients come from autograd.

Compute precision follows mamba_ssm (float32 for float16/bfloat16/float32 inputs); float64 inputs are
computed in float64 (mamba_ssm would compute them in float32). The output has the dtype of ``u``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["selective_scan_fn", "default_chunk_size"]


def default_chunk_size(length: int) -> int:
    """Chunk length that balances the two sequential loops (about sqrt(L), at least 1)."""
    return max(1, int(math.ceil(math.sqrt(max(length, 1)))))


def _groups_layout(B: Tensor, C: Tensor, dim: int) -> int:
    """Number of channel groups G used internally (channels are split as (G, dim // G))."""
    groups = 1
    for M in (B, C):
        if M.dim() == 4:
            g = M.shape[1]
            if dim % g:
                raise ValueError(f"channel count {dim} is not divisible by the {g} groups of B/C")
            groups = groups * g // math.gcd(groups, g)
    return groups


def _as_layout(M: Tensor, batch: int, dim: int, groups: int, dtype: torch.dtype) -> Tensor:
    """Bring B or C to a tensor broadcastable against (batch, G, dim/G, L, N).

    Accepted forms (as in mamba_ssm, real case): constant ``(dim, N)``; shared over channels
    ``(batch, N, L)``; grouped ``(batch, G', N, L)`` where channel d uses group ``d // (dim / G')``.
    """
    M = M.to(dtype)
    if M.dim() == 2:  # (D, N) -> (1, G, D/G, 1, N)
        return M.reshape(1, groups, dim // groups, 1, M.shape[-1])
    if M.dim() == 3:  # (B, N, L) -> (B, 1, 1, L, N)
        return M.transpose(1, 2).unsqueeze(1).unsqueeze(1)
    if M.dim() == 4:  # (B, G', N, L) -> (B, G, 1, L, N)
        if M.shape[1] != groups:
            M = M.repeat_interleave(groups // M.shape[1], dim=1)
        return M.transpose(2, 3).unsqueeze(2)
    raise ValueError(f"B/C must have 2, 3 or 4 dimensions, got shape {tuple(M.shape)}")


def _chunked_linear_scan(log_a: Tensor, b: Tensor, C: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Evaluate ``h_t = exp(log_a_t) h_{t-1} + b_t`` and ``y_t = sum_n h_t C_t``.

    Args:
        log_a: ``(..., L, N)`` log decays (``delta * A``).
        b: ``(..., L, N)`` inputs (``delta * B * u``), same shape as ``log_a``.
        C: broadcastable to ``(..., L, N)``.
        chunk: chunk length T.

    Returns:
        y ``(..., L)`` and the last state ``(..., N)``.
    """
    length, nstate = log_a.shape[-2], log_a.shape[-1]
    lead = log_a.shape[:-2]
    n_chunks = -(-length // chunk)
    pad = n_chunks * chunk - length
    C = C.expand(*C.shape[:-2], length, nstate)
    if pad:
        # identity steps at the end: decay 1, no input, no readout; they leave the state unchanged
        log_a = F.pad(log_a, (0, 0, 0, pad))
        b = F.pad(b, (0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, pad))

    def time_major(t: Tensor) -> Tensor:  # (..., n_chunks*T, N) -> (T, ..., n_chunks, N), contiguous
        t = t.reshape(*t.shape[:-2], n_chunks, chunk, nstate)
        return t.movedim(-2, 0).contiguous()

    log_a, b, C = time_major(log_a), time_major(b), time_major(C)
    a = torch.exp(log_a)

    # 1) local recurrence inside every chunk (zero initial state), all chunks at once; read out per step
    #    (unbind, not indexing: its backward is one stack instead of a full-size zero tensor per step)
    h = torch.zeros_like(b[0])
    y_steps = []
    for a_t, b_t, c_t in zip(a.unbind(0), b.unbind(0), C.unbind(0)):
        h = a_t * h + b_t
        y_steps.append((h * c_t).sum(-1))
    y = torch.stack(y_steps, dim=0)  # (T, ..., n_chunks)

    # 2) carry the true state across chunk boundaries
    decay = torch.exp(torch.cumsum(log_a, dim=0))  # decay from the chunk start to each position
    state = torch.zeros_like(h[..., 0, :])
    carried = []  # state entering each chunk
    for decay_c, local_c in zip(decay[-1].unbind(-2), h.unbind(-2)):
        carried.append(state)
        state = decay_c * state + local_c
    h0 = torch.stack(carried, dim=-2)  # (..., n_chunks, N)

    # 3) add the carried state's contribution: sum_n decay_t * h0 * C_t
    y = y + (decay * (C * h0)).sum(-1)  # (T, ..., n_chunks)
    y = y.movedim(0, -1).reshape(*lead, n_chunks * chunk)[..., :length]
    return y, state


def selective_scan_fn(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
                      z: Tensor | None = None, delta_bias: Tensor | None = None, delta_softplus: bool = False,
                      return_last_state: bool = False, chunk_size: int | None = None):
    """Selective scan with the semantics of ``mamba_ssm``'s ``selective_scan_fn`` (real ``A`` only).

    Args:
        u: ``(batch, dim, L)`` input.
        delta: ``(batch, dim, L)`` step sizes (before ``delta_bias`` / softplus).
        A: ``(dim, N)`` state matrix (diagonal per channel), real.
        B: ``(dim, N)``, ``(batch, N, L)`` or ``(batch, G, N, L)`` input matrix.
        C: same forms as ``B``, readout matrix.
        D: optional ``(dim,)`` skip weight.
        z: optional ``(batch, dim, L)`` gate, output is multiplied by ``silu(z)``.
        delta_bias: optional ``(dim,)`` added to ``delta``.
        delta_softplus: apply softplus to ``delta`` (after the bias).
        return_last_state: also return the final state ``(batch, dim, N)``.
        chunk_size: chunk length of the evaluation (default about ``sqrt(L)``); any value gives the same
            result up to rounding.

    Returns:
        ``out`` ``(batch, dim, L)`` in the dtype of ``u``, or ``(out, last_state)``.
    """
    if A.is_complex():
        raise NotImplementedError("the pure-PyTorch selective scan supports real A only")
    dtype_in = u.dtype
    cdtype = torch.float64 if dtype_in == torch.float64 else torch.float32
    batch, dim, length = u.shape
    if A.shape[0] != dim:
        raise ValueError(f"A has {A.shape[0]} channels, u has {dim}")
    nstate = A.shape[1]

    u_c = u.to(cdtype)
    dt = delta.to(cdtype)
    if delta_bias is not None:
        dt = dt + delta_bias.to(cdtype)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)

    groups = _groups_layout(B, C, dim)
    per_group = dim // groups
    # internal layout: (batch, G, dim/G, L, N)
    dt5 = dt.reshape(batch, groups, per_group, length, 1)
    A5 = A.to(cdtype).reshape(1, groups, per_group, 1, nstate)
    B5 = _as_layout(B, batch, dim, groups, cdtype)
    C5 = _as_layout(C, batch, dim, groups, cdtype)
    log_a = dt5 * A5
    b = (dt5 * u_c.reshape(batch, groups, per_group, length, 1)) * B5
    if b.shape != log_a.shape:
        b = b.expand_as(log_a)

    chunk = chunk_size if chunk_size is not None else default_chunk_size(length)
    y, last = _chunked_linear_scan(log_a, b, C5, max(1, min(int(chunk), max(length, 1))))
    y = y.reshape(batch, dim, length)
    last = last.reshape(batch, dim, nstate)

    out = y if D is None else y + u_c * D.to(cdtype)[:, None]
    if z is not None:
        out = out * F.silu(z.to(cdtype))
    out = out.to(dtype_in)
    return (out, last) if return_last_state else out
