r"""What is not a material: a per-pixel polynomial baseline and the atmospheric residual.

ATR-µFTIR spectra carry, besides the linear mixture of the materials, a per-pixel baseline
(offset, slope and curvature from thermal drift between the background and the sample scan)
and, per detector tile, a residual of atmospheric CO₂ and water vapour (docs/method.md,
"Nuisance terms"). Both are additive and not mixtures, so a linear unmixing method has to put
them into its endmembers. Measured on the synthetic scenes (docs/quality.md, "Error budget"),
they are the two largest sources of bias: started from the true endmembers, a least-squares
fit drifts by 13° (mean matched angle) because of the baseline alone and by 7° because of the
atmosphere alone.

Both are modelled as a fixed nuisance subspace :math:`\mathcal N = \operatorname{span}(\mathbf
N)`, :math:`\mathbf N \in \mathbb R^{B \times q}`, which the loss ignores: it compares the
parts of data and reconstruction orthogonal to it (:func:`ftir_unmixer.losses.spectral_angle_rad`
with ``nuisance``). Per pixel this is the same as fitting the nuisance coefficients by least
squares, :math:`\mathbf x \approx s\hat{\mathbf x} + \mathbf N\boldsymbol\beta`.

* **Baseline** (``model.baseline_degree`` = d ≥ 0): the Legendre polynomials
  :math:`P_0 … P_d` on the band index mapped to [−1, 1] (:func:`polynomial_basis`).
* **Atmosphere** (``model.atmosphere_components`` = q): the q leading right singular vectors
  of the valid pixels inside the CO₂ window (2270–2400 cm⁻¹), each pixel minus its
  straight-line fit across the window (:func:`atmospheric_basis`). Paint materials do not
  absorb there, so what varies is the CO₂ residual (one spectrum per tile, different size and
  sign between tiles) and noise: measured on the synthetic scenes, the first singular value is
  11× the second. Uncentred, so a residual shared by every tile is found too. Estimated once
  from the data, like the band weights. The water-vapour lines are left to the band weights:
  they fall on the fingerprint bands, and a basis estimated from the data there also picks up
  the narrow bands of materials such as lead soap (tried: projecting it out of the endmembers
  removed real structure).

The endmembers' own components in :math:`\mathcal N` do not change the loss, so they are not
identified by the data; :func:`remove_nuisance` sets them as an absorbance spectrum has them:
nothing in the CO₂ window, and the baseline at its lowest non-negative position
(:func:`lowest_polynomial`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import legendre
from scipy.optimize import linprog

from ftir_unmixer.band_weights import window_mask
from ftir_unmixer.data.atmosphere import ATMOSPHERIC_WINDOWS
from ftir_unmixer.errors import FTIRUnmixerError

__all__ = [
    "NuisanceBasis",
    "atmospheric_basis",
    "co2_window",
    "lowest_polynomial",
    "orthogonal_projector",
    "polynomial_basis",
    "remove_nuisance",
]

SAMPLE_PIXELS = 20_000
"""At most this many valid pixels (seeded sample) enter :func:`atmospheric_basis`."""


def polynomial_basis(num_bands: int, degree: int) -> np.ndarray:
    r"""Legendre polynomials :math:`P_0 … P_d` over the bands, ``(B, d + 1)``.

    .. math:: N_{bj} = P_j(t_b), \qquad t_b = -1 + \frac{2b}{B - 1}

    Args:
        num_bands: B.
        degree: d ≥ 0 (0: an offset, 1: offset and slope, 2: and curvature).
    """
    t = np.linspace(-1.0, 1.0, num_bands)
    return np.stack([legendre.legval(t, np.eye(degree + 1)[j]) for j in range(degree + 1)], 1)


def _co2_signal(pixels: np.ndarray, co2: np.ndarray) -> np.ndarray:
    """Each pixel inside the CO₂ window minus its straight-line fit there, ``(N, B_co2)``."""
    inside = pixels[:, co2]
    t = np.linspace(-1.0, 1.0, inside.shape[1])
    line = np.stack([np.ones_like(t), t], 1)
    return inside - inside @ np.linalg.pinv(line).T @ line.T


def co2_window(wavenumbers: np.ndarray) -> np.ndarray:
    """``(B,)`` bool, the bands of the CO₂ window."""
    return window_mask(wavenumbers, [ATMOSPHERIC_WINDOWS["co2"]])


def atmospheric_basis(
    pixels: np.ndarray, wavenumbers: np.ndarray, components: int, *, seed: int = 0
) -> np.ndarray:
    """The ``components`` leading directions of the CO₂ residual, ``(B, q)``.

    Args:
        pixels: ``(N, B)`` valid pixels, as fed to the model.
        wavenumbers: ``(B,)`` axis in cm⁻¹.
        components: q ≥ 1.
        seed: seed of the pixel sample (at most :data:`SAMPLE_PIXELS` pixels).

    Returns:
        Orthonormal columns, zero outside the CO₂ window.

    Raises:
        FTIRUnmixerError: if the axis has fewer than ``components + 2`` bands in the window.
    """
    co2 = co2_window(np.asarray(wavenumbers))
    if co2.sum() < components + 2:
        low, high = ATMOSPHERIC_WINDOWS["co2"]
        raise FTIRUnmixerError(
            f"model.atmosphere_components={components} needs at least {components + 2} bands "
            f"in the CO₂ window ({low:.0f}–{high:.0f} cm⁻¹) but the data have {int(co2.sum())}; "
            "set model.atmosphere_components=0 or keep that window (data.crop, "
            "data.drop_windows)."
        )
    pixels = np.asarray(pixels)
    if len(pixels) > SAMPLE_PIXELS:
        rows = np.random.default_rng(seed).choice(len(pixels), SAMPLE_PIXELS, replace=False)
        pixels = pixels[np.sort(rows)]
    _, _, directions = np.linalg.svd(_co2_signal(pixels.astype(np.float64), co2), False)
    basis = np.zeros((len(co2), components))
    basis[co2] = directions[:components].T
    return basis


@dataclass
class NuisanceBasis:
    """The nuisance subspace of a model: polynomial baseline columns, then atmospheric ones.

    Attributes:
        matrix: ``(B, q)`` the columns of N.
        polynomial_columns: how many of them (the first) are the baseline polynomials.
    """

    matrix: np.ndarray
    polynomial_columns: int

    @classmethod
    def fit(
        cls,
        pixels: np.ndarray,
        wavenumbers: np.ndarray,
        baseline_degree: int,
        atmosphere_components: int,
        seed: int = 0,
    ) -> NuisanceBasis:
        """Build the basis of ``model.baseline_degree`` and ``model.atmosphere_components``.

        Args:
            pixels: ``(N, B)`` valid pixels as fed to the model (the atmosphere is estimated
                from them).
            wavenumbers: ``(B,)`` axis.
            baseline_degree: d (−1: no baseline columns).
            atmosphere_components: q (0: no atmospheric columns).
            seed: seed of the atmosphere's pixel sample.
        """
        num_bands = len(wavenumbers)
        columns = [np.zeros((num_bands, 0))]
        if baseline_degree >= 0:
            columns.append(polynomial_basis(num_bands, baseline_degree))
        if atmosphere_components > 0:
            columns.append(atmospheric_basis(pixels, wavenumbers, atmosphere_components, seed=seed))
        return cls(np.hstack(columns), baseline_degree + 1)

    @property
    def polynomial(self) -> np.ndarray:
        """``(B, d + 1)`` the baseline columns."""
        return self.matrix[:, : self.polynomial_columns]

    @property
    def atmosphere(self) -> np.ndarray:
        """``(B, q)`` the atmospheric columns (orthonormal)."""
        return self.matrix[:, self.polynomial_columns :]


def lowest_polynomial(
    spectrum: np.ndarray, polynomial: np.ndarray, bands: np.ndarray | None = None
) -> np.ndarray:
    r"""Remove the highest polynomial that stays below a spectrum.

    .. math::

        \mathbf c^\star = \arg\max_{\mathbf c} \mathbf 1^\top \mathbf P \mathbf c
        \quad \text{s.t.} \quad (\mathbf P \mathbf c)_b \le e_b \ (b \in \text{bands}), \qquad
        \mathbf e - \mathbf P \mathbf c^\star

    (a linear programme): the spectrum's baseline is lowered until it touches zero, as an
    absorbance spectrum's does where the material does not absorb. For degree 0 it subtracts
    the minimum; for degree 1, the line under the lower convex hull that has the largest
    area.

    Args:
        spectrum: ``(B,)`` e.
        polynomial: ``(B, d + 1)`` P.
        bands: ``(B,)`` bool, the bands that constrain the polynomial (all by default).

    Returns:
        ``(B,)`` the spectrum without it, ≥ 0 on ``bands`` up to rounding.
    """
    if polynomial.shape[1] == 0:
        return spectrum
    bands = np.ones(len(spectrum), dtype=bool) if bands is None else bands
    solution = linprog(
        -polynomial.sum(axis=0),
        A_ub=polynomial[bands],
        b_ub=spectrum[bands],
        bounds=[(None, None)] * polynomial.shape[1],
        method="highs",
    )
    return spectrum - polynomial @ solution.x


def remove_nuisance(endmembers: np.ndarray, basis: NuisanceBasis) -> np.ndarray:
    """Set the endmembers' unidentified nuisance components as a material's spectrum has them.

    Their components along the atmospheric (CO₂) columns are projected out, then each one's
    baseline is lowered with :func:`lowest_polynomial`, constrained by the bands outside the
    CO₂ window (inside it the removed residual leaves values that say nothing about the
    baseline); what falls below 0 there, or by rounding, is clipped to 0.

    Args:
        endmembers: ``(B, K)``.
        basis: the model's nuisance basis.

    Returns:
        ``(B, K)`` non-negative endmembers.
    """
    atmosphere = basis.atmosphere
    cleaned = endmembers - atmosphere @ (atmosphere.T @ endmembers)
    outside = ~atmosphere.any(axis=1)
    cleaned = np.stack([lowest_polynomial(e, basis.polynomial, outside) for e in cleaned.T], axis=1)
    return np.clip(cleaned, 0.0, None)


def orthogonal_projector(basis: NuisanceBasis | None) -> Callable[[np.ndarray], np.ndarray]:
    """Spectra ``(..., B)`` → their part orthogonal to the nuisance subspace (identity if none)."""
    if basis is None:
        return lambda spectra: spectra
    q, _ = np.linalg.qr(basis.matrix)
    q = q.astype(np.float32)
    return lambda spectra: spectra - (spectra @ q) @ q.T
