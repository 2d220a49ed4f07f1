r"""Spectral angle losses: SAD and the band-weighted WSAD (paper Sec. II-D, Eq. 6–7).

.. math::

    \mathrm{WSAD}(\mathbf x, \hat{\mathbf x}; \mathbf w) = \arccos\left(
        \frac{(\mathbf w \odot \mathbf x)^\top (\mathbf w \odot \hat{\mathbf x})}
             {\|\mathbf w \odot \mathbf x\|_2 \, \|\mathbf w \odot \hat{\mathbf x}\|_2
              + \varepsilon}\right) \qquad (6)

    \mathcal L_{\mathrm{WSAD}} = \frac1N \sum_{i=1}^N
        \mathrm{WSAD}(\mathbf x_i, \hat{\mathbf x}_i; \mathbf w) \qquad (7)

SAD is WSAD with :math:`\mathbf w = \mathbf 1`. As in the authors' script the loss averages the
angle of every pixel of every patch, and the cosine is clamped to :math:`\pm(1 - 10^{-7})` before
the arccos, whose derivative is infinite at ±1. The clamp also sets the smallest angle the loss
can report, :math:`\arccos(1 - 10^{-7}) \approx 4.5 \times 10^{-4}` rad (0.026°), reached by
identical spectra; pixels fitted that closely no longer pass gradients.

**Nuisance subspace** (beyond the paper; ``model.baseline_degree``,
``model.atmosphere_components``, :mod:`ftir_unmixer.nuisance`): with an orthonormal basis
:math:`\mathbf Q` of the weighted nuisance columns :math:`\mathbf w \odot \mathbf N`, the angle is
taken between the parts of :math:`\mathbf w \odot \mathbf x` and :math:`\mathbf w \odot
\hat{\mathbf x}` orthogonal to it, :math:`(\mathbf I - \mathbf Q\mathbf Q^\top)(\mathbf w \odot
\mathbf x)`: a baseline or an atmospheric residual in the data costs nothing and needs no
endmember. Without a basis the loss is Eq. 6–7 exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ftir_unmixer.errors import FTIRUnmixerError

__all__ = ["SADLoss", "SpectralAngleLoss", "WSADLoss", "build_loss", "spectral_angle_rad"]

LOSS_NAMES = ("sad", "wsad")
"""Values of the config key ``loss.name``."""


def spectral_angle_rad(
    x: Tensor,
    x_hat: Tensor,
    weights: Tensor | None = None,
    dim: int = 1,
    eps: float = 1e-8,
    clamp: float = 1e-7,
    nuisance: Tensor | None = None,
) -> Tensor:
    r"""Per-pixel (weighted) spectral angle in radians (Eq. 6), the loss's angle in torch.

    Unlike :func:`ftir_unmixer.evaluation.spectral_angles.spectral_angle_deg` (NumPy, degrees,
    last axis, for scoring), it takes any band axis, keeps gradients and clamps the cosine.

    .. math::

        \cos\theta = \operatorname{clamp}\left(
            \frac{\langle \mathbf w \odot \mathbf x, \mathbf w \odot \hat{\mathbf x} \rangle}
                 {\|\mathbf w \odot \mathbf x\| \|\mathbf w \odot \hat{\mathbf x}\| + \varepsilon},
            -1 + c, 1 - c\right), \qquad \theta = \arccos(\cos\theta)

    The computation runs in float32 at least (bf16/fp16 inputs are cast up, float64 stays
    float64), so the result has that dtype and gradients flow back to the inputs' dtype.

    Args:
        x: Observed spectra, bands along ``dim`` (e.g. ``(N, B, p, p)`` patches or ``(N, B)``).
        x_hat: Reconstructions, same shape as ``x``.
        weights: ``(B,)`` non-negative band weights broadcast along ``dim``; ``None`` gives SAD.
        dim: The band axis.
        eps: ε of the denominator (guards all-zero spectra).
        clamp: c, the cosine is clamped to ``[-1 + c, 1 - c]`` (0 disables the margin).
        nuisance: ``(B, q)`` orthonormal basis :math:`\mathbf Q` of the (weighted) nuisance
            subspace projected out of both spectra after weighting (module docstring); None
            for Eq. 6 as it stands.

    Returns:
        The angle of every pixel: the input shape without ``dim``.

    """
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}.")
    dtype = torch.promote_types(torch.promote_types(x.dtype, x_hat.dtype), torch.float32)
    x, x_hat = x.to(dtype), x_hat.to(dtype)
    if weights is not None:
        num_bands = x.shape[dim]
        if weights.shape != (num_bands,):
            raise ValueError(
                f"weights must have shape ({num_bands},) to match the band axis, "
                f"got {tuple(weights.shape)}."
            )
        shape = [1] * x.ndim
        shape[dim] = num_bands
        w = weights.to(device=x.device, dtype=dtype).reshape(shape)
        x, x_hat = w * x, w * x_hat
    if nuisance is not None and nuisance.shape[1]:
        basis = nuisance.to(device=x.device, dtype=dtype)
        x, x_hat = (
            (v.movedim(dim, -1) - (v.movedim(dim, -1) @ basis) @ basis.T).movedim(-1, dim)
            for v in (x, x_hat)
        )
    dot = (x * x_hat).sum(dim=dim)
    norms = torch.linalg.vector_norm(x, dim=dim) * torch.linalg.vector_norm(x_hat, dim=dim)
    cosine = (dot / (norms + eps)).clamp(-1.0 + clamp, 1.0 - clamp)
    return torch.arccos(cosine)


class SpectralAngleLoss(nn.Module):
    """Mean spectral angle over all pixels of a batch (Eq. 7): WSAD, or SAD without weights.

    The weights are a buffer, so they move with the module (``.to(device)``) and are saved in
    its ``state_dict``; they are fixed, never trained. Casting the module to a low-precision
    dtype casts the buffer too; the angle itself is always computed in float32 or better.

    Attributes:
        name: ``"wsad"`` when weights are held, ``"sad"`` otherwise.
        weights: ``(B,)`` buffer, or ``None`` for SAD.
        nuisance: ``(B, q)`` buffer, the orthonormal basis of the weighted nuisance subspace
            (:meth:`set_nuisance`), or ``None``.

    """

    weights: Tensor | None
    nuisance: Tensor | None

    def __init__(
        self,
        weights: Tensor | np.ndarray | None = None,
        dim: int = 1,
        eps: float = 1e-8,
        clamp: float = 1e-7,
        nuisance_shape: tuple[int, int] | None = None,
    ) -> None:
        """Hold the band weights and the settings of :func:`spectral_angle_rad`.

        Args:
            weights: ``(B,)`` finite non-negative band weights, not all zero; ``None`` for SAD.
            dim: Band axis of the inputs.
            eps: ε of Eq. 6.
            clamp: Cosine clamp margin.
            nuisance_shape: ``(B, q)`` of the nuisance basis to hold (zeros until
                :meth:`set_nuisance`, which projects nothing), or None for none.

        """
        super().__init__()
        if weights is not None:
            weights = torch.as_tensor(weights, dtype=torch.float32).detach().clone()
            if weights.ndim != 1 or not torch.isfinite(weights).all() or (weights < 0).any():
                raise ValueError("Band weights must be a 1-D tensor of finite values ≥ 0.")
            if not (weights > 0).any():
                raise ValueError("Band weights are all zero, so every spectral angle is undefined.")
        self.register_buffer("weights", weights)
        nuisance = torch.zeros(nuisance_shape) if nuisance_shape and nuisance_shape[1] else None
        self.register_buffer("nuisance", nuisance)
        self.name = "sad" if weights is None else "wsad"
        self.dim = dim
        self.eps = eps
        self.clamp = clamp

    def forward(self, x: Tensor, x_hat: Tensor, mask: Tensor | None = None) -> Tensor:
        """Return the mean angle (radians) between ``x`` and ``x_hat`` over all pixels.

        Args:
            x: Observed spectra, bands along ``self.dim``.
            x_hat: Reconstructions, same shape.
            mask: bool, the input shape without ``self.dim``: average over these pixels only
                (full-image training leaves masked pixels out of Eq. 7). Computed as a
                masked sum over the count, with no data-dependent shape (no host sync).

        Returns:
            A scalar tensor (float32, or float64 for float64 inputs).

        """
        angles = spectral_angle_rad(
            x, x_hat, self.weights, self.dim, self.eps, self.clamp, self.nuisance
        )
        if mask is None:
            return angles.mean()
        mask = mask.to(angles.dtype)
        return (angles * mask).sum() / mask.sum().clamp_min(1.0)

    def set_nuisance(self, columns: Tensor | np.ndarray) -> None:
        r"""Hold the orthonormal basis :math:`\mathbf Q` of the weighted nuisance columns.

        Args:
            columns: ``(B, q)`` the nuisance columns :math:`\mathbf N` (unweighted), q as
                given by ``nuisance_shape``.
        """
        columns = torch.as_tensor(np.asarray(columns), dtype=torch.float64)
        if self.weights is not None:
            columns = self.weights.to(torch.float64)[:, None] * columns
        basis, _ = torch.linalg.qr(columns)
        self.nuisance.copy_(basis.to(self.nuisance.dtype))

    def extra_repr(self) -> str:
        """Summarise the settings in ``repr``."""
        bands = "all 1" if self.weights is None else f"{self.weights.numel()} bands"
        return f"name={self.name!r}, weights={bands}, dim={self.dim}, clamp={self.clamp}"


class SADLoss(SpectralAngleLoss):
    """Mean spectral angle distance (Eq. 6–7 with all weights 1)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8, clamp: float = 1e-7) -> None:
        """Set up SAD; the arguments are those of :class:`SpectralAngleLoss`."""
        super().__init__(None, dim=dim, eps=eps, clamp=clamp)


class WSADLoss(SpectralAngleLoss):
    """Mean weighted spectral angle distance (Eq. 6–7) with fixed band weights."""

    def __init__(
        self, weights: Tensor | np.ndarray, dim: int = 1, eps: float = 1e-8, clamp: float = 1e-7
    ) -> None:
        """Set up WSAD; the arguments are those of :class:`SpectralAngleLoss`."""
        if weights is None:
            raise ValueError("WSADLoss needs band weights; use SADLoss for the unweighted loss.")
        super().__init__(weights, dim=dim, eps=eps, clamp=clamp)


def build_loss(name: str, weights: Tensor | np.ndarray | None = None) -> SpectralAngleLoss:
    """Build the loss selected by the config key ``loss.name``.

    Args:
        name: ``"sad"`` or ``"wsad"``.
        weights: ``(B,)`` band weights, required for ``"wsad"`` and ignored for ``"sad"``.

    Returns:
        :class:`SADLoss` or :class:`WSADLoss`.

    Raises:
        FTIRUnmixerError: If ``name`` is not one of :data:`LOSS_NAMES`.

    """
    if name == "sad":
        return SADLoss()
    if name == "wsad":
        return WSADLoss(weights)
    raise FTIRUnmixerError(f"loss.name must be one of {', '.join(LOSS_NAMES)}, got {name!r}.")
