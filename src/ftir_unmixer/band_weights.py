r"""Band-reliability weights for the WSAD loss (paper Sec. II-E, Eq. 8–13).

The weights :math:`\mathbf{w} \in [w_{\min}, 1]^B` are computed once from the cube exactly as it
is fed to the network (after preprocessing, valid pixels only), flattened to
:math:`\mathbf{Y} \in \mathbb{R}^{N \times B}` (pixels × bands). Three per-band diagnostics flag
bands that are unreliable:

* the neighbour-correlation deficit :math:`d^{(\mathrm{corr})}` (Eq. 8–9): a band that does not
  vary across the image like its spectral neighbours (spikes, detector glitches, noise);
* the roughness :math:`d^{(\mathrm{rough})}` (Eq. 10): sharp curvature of the median spectrum
  (single-band spikes, atmospheric lines);
* the spatial flatness :math:`d^{(\mathrm{flat})}`: bands with unusually low spatial variance
  (spatially homogeneous, e.g. instrument or atmospheric modulations).

Each diagnostic is turned into a robust z-score (Eq. 11), the positive parts are combined into an
outlier score (Eq. 12) and mapped to a weight by a decreasing sigmoid (Eq. 13). Optional "bad
windows" (wavenumber ranges such as the CO₂ doublet) are then forced to weight 0.

Every step is one function below; :func:`estimate_band_weights` chains them. Everything is
computed in float64 and no step can produce NaN or Inf for finite input, including bands with
zero MAD or zero variance.

Where the authors' reference script differs from the paper: it has no flatness term, which
``gamma_flat = 0`` reproduces exactly; it clips :math:`\rho_b` to :math:`[-1, 1]` and evaluates
the sigmoid stably, as done here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit

from ftir_unmixer.errors import FTIRUnmixerError

__all__ = [
    "BandWeightConfig",
    "BandWeightEstimate",
    "estimate_band_weights",
    "median_spectrum_roughness",
    "neighbour_correlation",
    "neighbour_correlation_deficit",
    "outlier_score",
    "robust_standardize",
    "robust_zscore",
    "score_to_weight",
    "spatial_flatness",
    "window_mask",
]

_KEY = "loss.band_weights"

DEFAULT_EPS = 1e-8
"""The ε of Eq. 8, 11 and of the flatness term (see :class:`BandWeightConfig`)."""


def _median_mad(a: np.ndarray, axis: int | None, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Median and ε-regularised median absolute deviation along ``axis``.

    .. math::

        m = \operatorname{median}(a), \qquad
        \mathrm{MAD} = \operatorname{median}(|a - m|) + \varepsilon

    The MAD is not rescaled by 1.4826: the paper uses the raw MAD in Eq. 8 and Eq. 11.

    Args:
        a: Input array (float64).
        axis: Axis to reduce; ``None`` for the whole array.
        eps: Non-negative ε added to the MAD.

    Returns:
        ``(median, mad)`` with ``axis`` kept (size 1) so that both broadcast against ``a``.

    """
    median = np.median(a, axis=axis, keepdims=True)
    mad = np.median(np.abs(a - median), axis=axis, keepdims=True) + eps
    return median, mad


BAND_BLOCK = 64
"""Bands processed at once by the per-band statistics: bounds the float64 temporaries to
``N × 64`` values instead of ``N × B`` (the results are identical)."""


def _band_blocks(num_bands: int) -> Iterable[slice]:
    """Consecutive slices of at most :data:`BAND_BLOCK` bands covering ``range(num_bands)``."""
    return (slice(i, min(i + BAND_BLOCK, num_bands)) for i in range(0, num_bands, BAND_BLOCK))


def _per_band(statistic: Callable[[np.ndarray], np.ndarray], Y: ArrayLike) -> np.ndarray:
    """Apply an axis-0 float64 ``statistic`` to ``(N, B)`` data, one block of bands at a time."""
    Y = np.asarray(Y)
    return np.concatenate(
        [statistic(Y[:, cols].astype(np.float64)) for cols in _band_blocks(Y.shape[1])]
    )


def robust_standardize(Y: ArrayLike, eps: float = DEFAULT_EPS) -> np.ndarray:
    r"""Standardise every band robustly, then to zero mean and unit variance (Eq. 8).

    .. math::

        Z'_{p,b} = \frac{Y_{p,b} - m_b}{\mathrm{MAD}_b}, \quad
        m_b = \operatorname{median}_p Y_{p,b}, \quad
        \mathrm{MAD}_b = \operatorname{median}_p |Y_{p,b} - m_b| + \varepsilon \qquad (8)

    followed by mean-centring and variance normalisation per band,

    .. math::

        Z_{p,b} = \frac{Z'_{p,b} - \bar Z'_b}{\sigma_b(Z') + \varepsilon},

    with the population standard deviation :math:`\sigma_b` (``ddof=0``), so that
    :math:`\frac1N \sum_p Z_{p,b}^2 = 1` for every non-constant band and Eq. 9 is the Pearson
    correlation of adjacent bands.

    Because Eq. 8 is an increasing affine map per band, the final :math:`Z` equals the classical
    z-score of :math:`Y` whenever :math:`\mathrm{MAD}_b > 0`; ε keeps bands with zero MAD finite
    (a non-constant band with zero MAD still standardises to unit variance) and a constant band
    maps to all zeros.

    Args:
        Y: ``(N, B)`` pixels × bands.
        eps: ε ≥ 0 of Eq. 8, also guarding the variance normalisation.

    Returns:
        ``(N, B)`` float64 array :math:`Z`.

    """
    Y = np.asarray(Y)
    Z = np.empty(Y.shape, dtype=np.float64)
    for cols in _band_blocks(Y.shape[1]):
        block = Y[:, cols].astype(np.float64)
        median, mad = _median_mad(block, axis=0, eps=eps)
        block -= median
        block /= mad
        block -= block.mean(axis=0, keepdims=True)
        block /= block.std(axis=0, keepdims=True) + eps
        Z[:, cols] = block
    return Z


def neighbour_correlation(Z: ArrayLike) -> np.ndarray:
    r"""Correlation of every pair of adjacent standardised bands (Eq. 9).

    .. math::

        \rho_b = \operatorname{clip}\Big(\frac{1}{N} \sum_{p=1}^{N} Z_{p,b} Z_{p,b+1},
        -1, 1\Big), \qquad b = 1, \dots, B-1 \qquad (9)

    The clip (as in the reference script) removes the rounding and ε excursions beyond the
    Cauchy–Schwarz bound.

    Args:
        Z: ``(N, B)`` output of :func:`robust_standardize`.

    Returns:
        ``(B - 1,)`` float64 array :math:`\rho`.

    """
    Z = np.asarray(Z, dtype=np.float64)
    rho = np.einsum("pb,pb->b", Z[:, :-1], Z[:, 1:]) / Z.shape[0]
    return np.clip(rho, -1.0, 1.0)


def _blockwise_neighbour_correlation(Y: np.ndarray, eps: float) -> np.ndarray:
    """Eq. 8 then Eq. 9 on blocks of bands overlapping by one band.

    Eq. 8 standardises every band on its own, so a block's columns equal those of the whole
    standardised array, and the ``(N, B)`` float64 :math:`Z` is never held at once.
    """
    num_bands = Y.shape[1]
    return np.concatenate(
        [
            neighbour_correlation(
                robust_standardize(Y[:, lo : min(lo + BAND_BLOCK, num_bands - 1) + 1], eps)
            )
            for lo in range(0, num_bands - 1, BAND_BLOCK)
        ]
    )


def neighbour_correlation_deficit(rho: ArrayLike) -> np.ndarray:
    r"""Neighbour-correlation deficit of every band (Sec. II-E b).

    The local neighbour agreement takes the worse of a band's two neighbour correlations; the end
    bands take the one they have:

    .. math::

        c_1 = \rho_1, \quad c_B = \rho_{B-1}, \quad
        c_b = \min(\rho_{b-1}, \rho_b) \ (2 \le b \le B-1), \qquad
        d_b^{(\mathrm{corr})} = 1 - c_b \in [0, 2].

    Args:
        rho: ``(B - 1,)`` adjacent-band correlations from :func:`neighbour_correlation`.

    Returns:
        ``(B,)`` float64 array :math:`d^{(\mathrm{corr})}`.

    """
    rho = np.asarray(rho, dtype=np.float64)
    agreement = np.concatenate([rho[:1], np.minimum(rho[:-1], rho[1:]), rho[-1:]])
    return 1.0 - agreement


def median_spectrum_roughness(Y: ArrayLike) -> np.ndarray:
    r"""Absolute second difference of the median spectrum (Eq. 10).

    .. math::

        \tilde m_b = \operatorname{median}_p Y_{p,b}, \qquad
        d_b^{(\mathrm{rough})} = |\tilde m_{b+1} - 2 \tilde m_b + \tilde m_{b-1}|,
        \quad 2 \le b \le B-1 \qquad (10)

    with the ends copied from their neighbours: :math:`d_1 = d_2`, :math:`d_B = d_{B-1}`.
    The differences are taken along the band index, whatever the spacing of the wavenumbers.

    Args:
        Y: ``(N, B)`` pixels × bands, ``B ≥ 3``.

    Returns:
        ``(B,)`` float64 array :math:`d^{(\mathrm{rough})}`.

    """
    median_spectrum = _per_band(lambda block: np.median(block, axis=0), Y)
    curvature = np.abs(np.diff(median_spectrum, n=2))
    return np.pad(curvature, 1, mode="edge")


def spatial_flatness(
    Y: ArrayLike, eps: float = DEFAULT_EPS, groups: ArrayLike | None = None
) -> np.ndarray:
    r"""Spatial flatness of every band (Sec. II-E d): large for low spatial variance.

    .. math::

        v_b = \operatorname{Var}_p(Y_{p,b}) + \varepsilon, \qquad
        d_b^{(\mathrm{flat})} = -\log v_b

    with the population variance (``ddof=0``). ε bounds the value of a constant band at
    :math:`-\log\varepsilon` (≈ 18.4 for ε = 1e-8).

    With ``groups`` (e.g. the detector tile of every pixel), :math:`v_b` is instead the
    pixel-weighted mean of the within-group variances. An atmospheric residual is constant
    within a tile but differs between tiles, so its bands have a large variance over the
    image and a small one within each tile: only the within-tile variance shows them as flat.

    Args:
        Y: ``(N, B)`` pixels × bands.
        eps: ε > 0 added to the variance.
        groups: ``(N,)`` integer group of every pixel, or None for the whole image (the
            paper's definition).

    Returns:
        ``(B,)`` float64 array :math:`d^{(\mathrm{flat})}`.

    """
    if groups is None:
        return -np.log(_per_band(lambda block: np.var(block, axis=0), Y) + eps)
    Y = np.asarray(Y)
    groups = np.asarray(groups)
    variance = np.zeros(Y.shape[1])
    for g in np.unique(groups):
        members = groups == g
        variance += members.sum() * _per_band(lambda block: np.var(block, axis=0), Y[members])
    return -np.log(variance / len(groups) + eps)


def robust_zscore(u: ArrayLike, eps: float = DEFAULT_EPS) -> np.ndarray:
    r"""Robust z-score of a per-band diagnostic across bands (Eq. 11).

    .. math::

        z(u_b) = \frac{u_b - \operatorname{median}(\mathbf u)}
                      {\mathrm{MAD}(\mathbf u) + \varepsilon} \qquad (11)

    Args:
        u: ``(B,)`` diagnostic.
        eps: ε > 0 added to the MAD.

    Returns:
        ``(B,)`` float64 array of z-scores.

    """
    u = np.asarray(u, dtype=np.float64)
    median, mad = _median_mad(u, axis=None, eps=eps)
    return (u - median) / mad


def outlier_score(
    d_corr: ArrayLike,
    d_rough: ArrayLike,
    d_flat: ArrayLike,
    gamma_rough: float,
    gamma_flat: float,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    r"""Combine the three diagnostics into a non-negative outlier score (Eq. 12).

    .. math::

        s_b = \max(z(d^{(\mathrm{corr})}_b), 0)
            + \gamma_{\mathrm{rough}} \max(z(d^{(\mathrm{rough})}_b), 0)
            + \gamma_{\mathrm{flat}} \max(z(d^{(\mathrm{flat})}_b), 0) \qquad (12)

    with :math:`z` the robust z-score of Eq. 11. Only unusually *large* diagnostics count.
    ``gamma_flat = 0`` gives the reference script's score exactly.

    Args:
        d_corr: ``(B,)`` neighbour-correlation deficit.
        d_rough: ``(B,)`` median-spectrum roughness.
        d_flat: ``(B,)`` spatial flatness.
        gamma_rough: γ_rough ≥ 0.
        gamma_flat: γ_flat ≥ 0.
        eps: ε of Eq. 11.

    Returns:
        ``(B,)`` float64 score :math:`s \ge 0`.

    """
    z_corr, z_rough, z_flat = (
        np.maximum(robust_zscore(d, eps), 0.0) for d in (d_corr, d_rough, d_flat)
    )
    return z_corr + gamma_rough * z_rough + gamma_flat * z_flat


def score_to_weight(s: ArrayLike, tau: float, sharpness: float, w_min: float) -> np.ndarray:
    r"""Map outlier scores to band weights with a decreasing sigmoid (Eq. 13).

    .. math::

        w_b = w_{\min} + (1 - w_{\min})\, \sigma(-\alpha (s_b - \tau)), \qquad
        \sigma(t) = \frac{1}{1 + e^{-t}} \qquad (13)

    :math:`\sigma` is evaluated with :func:`scipy.special.expit`, which neither overflows nor
    loses precision for large :math:`|t|`. A score of τ gives the midpoint
    :math:`(1 + w_{\min}) / 2`; large scores tend to :math:`w_{\min}`, small ones to 1.

    Args:
        s: ``(B,)`` outlier scores.
        tau: Threshold τ.
        sharpness: α > 0.
        w_min: Weight floor in ``[0, 1)``.

    Returns:
        ``(B,)`` float64 weights in ``[w_min, 1]``.

    """
    s = np.asarray(s, dtype=np.float64)
    return w_min + (1.0 - w_min) * expit(-sharpness * (s - tau))


def window_mask(wavenumbers: ArrayLike, bad_windows: Iterable[Sequence[float]]) -> np.ndarray:
    r"""Bands whose wavenumber lies inside any bad window.

    A window ``[lo, hi]`` is closed and its ends may come in either order; the wavenumber axis
    may be ascending or descending.

    Args:
        wavenumbers: ``(B,)`` axis in cm⁻¹.
        bad_windows: Pairs ``[lo, hi]`` in cm⁻¹.

    Returns:
        ``(B,)`` boolean mask, True inside a window.

    """
    wavenumbers = np.asarray(wavenumbers, dtype=np.float64)
    mask = np.zeros(wavenumbers.shape, dtype=bool)
    for window in bad_windows:
        lo, hi = sorted(window)
        mask |= (wavenumbers >= lo) & (wavenumbers <= hi)
    return mask


def _check_number(name: str, value: object, condition: str, ok: bool) -> None:
    """Raise the one-sentence error for setting ``loss.band_weights.<name>``."""
    if not ok:
        raise FTIRUnmixerError(f"{_KEY}.{name} must be {condition}, got {value!r}.")


def _is_real(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _normalize_windows(bad_windows: object) -> tuple[tuple[float, float], ...]:
    """Validate ``bad_windows`` and return it as a tuple of ``(lo, hi)`` float pairs."""
    message = (
        f"{_KEY}.bad_windows must be a list of [lo, hi] pairs of finite wavenumbers in cm⁻¹, "
        f"got {bad_windows!r}."
    )
    if isinstance(bad_windows, str | bytes) or not isinstance(bad_windows, Iterable):
        raise FTIRUnmixerError(message)
    windows = []
    for window in bad_windows:
        if (
            isinstance(window, str | bytes)
            or not isinstance(window, Iterable)
            or len(pair := tuple(window)) != 2
            or not all(_is_real(v) for v in pair)
        ):
            raise FTIRUnmixerError(message)
        windows.append((float(pair[0]), float(pair[1])))
    return tuple(windows)


@dataclass(frozen=True)
class BandWeightConfig:
    r"""Settings of the band-weight estimation (config group ``loss.band_weights``).

    Invalid values raise :class:`~ftir_unmixer.errors.FTIRUnmixerError` naming the key.

    Attributes:
        gamma_rough: γ_rough ≥ 0 of Eq. 12 (reference script: 0.75).
        gamma_flat: γ_flat ≥ 0 of Eq. 12. The paper gives no value and the reference script has
            no flatness term (``0`` reproduces it). Our default is 0.5: flatness is the least
            specific of the three diagnostics, because a genuine but rare component (a thin
            layer, a few grains) also has low spatial variance, so it gets a smaller weight than
            the correlation deficit (1) and the roughness (0.75). On its own it must then reach
            :math:`z^{(\mathrm{flat})} \ge 2\tau = 6` to bring a band to the sigmoid midpoint,
            i.e. only bands far below the typical spatial variance (constant or almost
            constant bands, bands whose range is set by a few spiking pixels) are suppressed by
            flatness alone, while a moderate flatness adds its evidence to the other two
            diagnostics.
        tau: Threshold τ of Eq. 13 (script: 3.0).
        sharpness: α > 0 of Eq. 13 (script: 2.0).
        w_min: Weight floor in ``[0, 1)`` (script: 0.05).
        bad_windows: ``[lo, hi]`` wavenumber ranges in cm⁻¹ whose weights are forced to 0,
            e.g. ``[[2300, 2400]]`` for the CO₂ doublet; normalised to a tuple of float pairs.
        flatness_scope: ``image`` (the paper: variance over all pixels) or ``tile``
            (mean within-tile variance, which exposes residuals that are constant within a
            detector tile, as atmospheric CO2/H2O differences are; see
            :func:`spatial_flatness`).
        eps: ε > 0 of Eq. 8, 11 and of the flatness variance. 1e-8 is negligible against any
            meaningful scale of preprocessed data (band_minmax data lie in [0, 1], where a
            non-constant band has a variance of at least about 1/(2N) and MADs, variances and
            diagnostic spreads are orders of magnitude above 1e-8) and far above float64
            round-off, so it only acts where a MAD or a variance is exactly (or nearly) zero:
            it keeps those bands finite and caps the flatness of a constant band at
            −log ε ≈ 18.4.

    """

    gamma_rough: float = 0.75
    gamma_flat: float = 0.5
    tau: float = 3.0
    sharpness: float = 2.0
    w_min: float = 0.05
    bad_windows: tuple[tuple[float, float], ...] = field(default=())
    flatness_scope: str = "image"
    eps: float = DEFAULT_EPS

    def __post_init__(self) -> None:
        if self.flatness_scope not in ("image", "tile"):
            raise FTIRUnmixerError(
                f"{_KEY}.flatness_scope={self.flatness_scope!r} is unknown; use 'image' or 'tile'."
            )
        for name in ("gamma_rough", "gamma_flat"):
            value = getattr(self, name)
            _check_number(name, value, "a finite number ≥ 0", _is_real(value) and value >= 0)
        _check_number("tau", self.tau, "a finite number", _is_real(self.tau))
        _check_number(
            "sharpness",
            self.sharpness,
            "a finite number > 0",
            _is_real(self.sharpness) and self.sharpness > 0,
        )
        _check_number(
            "w_min", self.w_min, "in [0, 1)", _is_real(self.w_min) and 0 <= self.w_min < 1
        )
        _check_number("eps", self.eps, "a finite number > 0", _is_real(self.eps) and self.eps > 0)
        object.__setattr__(self, "bad_windows", _normalize_windows(self.bad_windows))

    @classmethod
    def from_mapping(cls, settings: Mapping[str, object]) -> BandWeightConfig:
        """Build from a mapping such as the Hydra node ``loss.band_weights``.

        Args:
            settings: Keys among this class's fields; missing keys take their defaults.

        Returns:
            The validated configuration.

        Raises:
            FTIRUnmixerError: On an unknown key or an invalid value.

        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise FTIRUnmixerError(
                f"{_KEY}.{unknown[0]} is not a known setting; "
                f"use one of {', '.join(sorted(known))}."
            )
        return cls(**dict(settings))


@dataclass(frozen=True)
class BandWeightEstimate:
    """Band weights and the diagnostics they came from; all arrays ``(B,)`` float64.

    The field names match the results contract (``band_weights`` and
    ``band_diagnostics/{corr_deficit,roughness,flatness,score}``).

    Attributes:
        weights: w of Eq. 13 as used by the loss (0 in bad windows, all 1 for SAD).
        corr_deficit: Neighbour-correlation deficit d^(corr) (Eq. 9).
        roughness: Median-spectrum roughness d^(rough) (Eq. 10).
        flatness: Spatial flatness d^(flat).
        score: Outlier score s (Eq. 12).

    """

    weights: np.ndarray
    corr_deficit: np.ndarray
    roughness: np.ndarray
    flatness: np.ndarray
    score: np.ndarray

    @property
    def diagnostics(self) -> dict[str, np.ndarray]:
        """The four diagnostics keyed as in ``results.h5`` ``band_diagnostics/``."""
        return {
            "corr_deficit": self.corr_deficit,
            "roughness": self.roughness,
            "flatness": self.flatness,
            "score": self.score,
        }


def _check_cube(Y: ArrayLike) -> np.ndarray:
    """Check that ``Y`` is a finite (N ≥ 2, B ≥ 3) array; return it as float32 or float64.

    float32 stays float32: the statistics convert one block of bands at a time to float64.
    """
    Y = np.asarray(Y)
    if Y.dtype != np.float32:
        Y = Y.astype(np.float64)
    if Y.ndim != 2 or Y.shape[0] < 2 or Y.shape[1] < 3:
        raise FTIRUnmixerError(
            "Band weights need a 2-D (pixels × bands) array with at least 2 valid pixels and "
            f"3 bands, got shape {Y.shape}."
        )
    if not all(np.isfinite(Y[:, cols]).all() for cols in _band_blocks(Y.shape[1])):
        raise FTIRUnmixerError(
            "Band weights need finite data, but the preprocessed cube has NaN or Inf values; "
            "mask those pixels out or fix the input file."
        )
    return Y


def _bad_window_mask(
    wavenumbers: ArrayLike | None, bad_windows: tuple[tuple[float, float], ...], num_bands: int
) -> np.ndarray:
    """:func:`window_mask` after checking the axis fits the cube and a band survives."""
    key = f"{_KEY}.bad_windows"
    if wavenumbers is None:
        raise FTIRUnmixerError(f"{key} is set but no wavenumber axis was given to locate it.")
    wavenumbers = np.asarray(wavenumbers, dtype=np.float64)
    if wavenumbers.shape != (num_bands,):
        raise FTIRUnmixerError(
            f"{key} needs one wavenumber per band ({num_bands}), "
            f"got an axis of shape {wavenumbers.shape}."
        )
    mask = window_mask(wavenumbers, bad_windows)
    if mask.all():
        raise FTIRUnmixerError(f"{key} covers every band; narrow the windows.")
    return mask


def estimate_band_weights(
    Y: ArrayLike,
    wavenumbers: ArrayLike | None = None,
    config: BandWeightConfig | None = None,
    tiles: ArrayLike | None = None,
) -> BandWeightEstimate:
    r"""Estimate the band-reliability weights of a cube (Eq. 8–13 and bad windows).

    Pipeline: :func:`robust_standardize` → :func:`neighbour_correlation` →
    :func:`neighbour_correlation_deficit`; :func:`median_spectrum_roughness`;
    :func:`spatial_flatness`; :func:`outlier_score` → :func:`score_to_weight`; finally bands in
    ``config.bad_windows`` get weight exactly 0. The diagnostics and scores of those bands are
    reported as computed; the windows only act on the weights.

    Args:
        Y: ``(N, B)`` valid pixels × bands, already preprocessed as fed to the network.
        wavenumbers: ``(B,)`` axis in cm⁻¹, either order; needed only for bad windows.
        config: Settings; defaults to :class:`BandWeightConfig` ``()``.
        tiles: ``(N,)`` detector tile of every pixel, used when
            ``config.flatness_scope == "tile"``.

    Returns:
        The weights and diagnostics, all ``(B,)`` float64.

    Raises:
        FTIRUnmixerError: If ``Y`` is not a finite ``(N ≥ 2, B ≥ 3)`` array, or the bad windows
            cannot be applied (no or mismatched wavenumbers, or every band excluded).

    """
    config = BandWeightConfig() if config is None else config
    Y = _check_cube(Y)
    eps = config.eps

    corr_deficit = neighbour_correlation_deficit(_blockwise_neighbour_correlation(Y, eps))
    roughness = median_spectrum_roughness(Y)
    if config.flatness_scope == "tile" and tiles is None:
        raise FTIRUnmixerError(
            f"{_KEY}.flatness_scope='tile' needs the tile of every pixel; use 'image' for data "
            "without tiles."
        )
    flatness = spatial_flatness(Y, eps, tiles if config.flatness_scope == "tile" else None)
    score = outlier_score(
        corr_deficit, roughness, flatness, config.gamma_rough, config.gamma_flat, eps
    )
    weights = score_to_weight(score, config.tau, config.sharpness, config.w_min)

    if config.bad_windows:
        weights[_bad_window_mask(wavenumbers, config.bad_windows, Y.shape[1])] = 0.0
    return BandWeightEstimate(weights, corr_deficit, roughness, flatness, score)
