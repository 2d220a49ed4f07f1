r"""What every classical baseline shares: input checks, fitted attributes, results export.

A baseline is a scikit-learn-style estimator: ``fit(X)`` with ``X`` of shape ``(N, B)`` (pixels ×
bands) sets

* ``endmembers_`` ``(B, K)``: the endmember spectra, in the units of ``X``;
* ``abundances_`` ``(N, K)``: non-negative, each row summing to one;
* ``reconstruction_`` ``(N, B)``: :math:`\mathbf A \mathbf E^\top`;
* ``reconstruction_error_`` ``(N,)``: per-pixel spectral angle between ``X`` and the
  reconstruction, in radians (the ``reconstruction_error`` of ``results.h5``).

:meth:`BaseUnmixer.to_result` packs them into an
:class:`~ftir_unmixer.io.results_file.UnmixingResult` so a baseline run writes the same
``results.h5`` as the CNN.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator

from ftir_unmixer import __version__
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.spectral_angles import spectral_angle_deg
from ftir_unmixer.io.results_file import DIAGNOSTIC_NAMES, UnmixingResult

__all__ = ["BaseUnmixer", "check_data", "sum_to_one"]


def check_data(X: ArrayLike, num_endmembers: int) -> np.ndarray:
    """Validate a ``(N, B)`` data matrix for unmixing into ``num_endmembers`` components.

    Args:
        X: pixels × bands.
        num_endmembers: K.

    Returns:
        ``X`` as float64.

    Raises:
        FTIRUnmixerError: if ``X`` is not a finite 2-D matrix with at least K pixels and K
            bands, or K < 2.

    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise FTIRUnmixerError(
            f"a baseline needs a (pixels, bands) matrix but got shape {X.shape}; flatten the "
            "cube with cube.reshape(-1, bands)."
        )
    if not np.all(np.isfinite(X)):
        raise FTIRUnmixerError(
            "the data contain NaN or Inf; mask or repair those pixels before unmixing."
        )
    if not 2 <= num_endmembers <= min(X.shape):
        raise FTIRUnmixerError(
            f"num_endmembers must be between 2 and min(pixels, bands) = {min(X.shape)}, "
            f"got {num_endmembers}."
        )
    return X


def sum_to_one(A: np.ndarray) -> np.ndarray:
    """Divide each row by its sum; a row summing to zero becomes the uniform ``1/K``.

    Args:
        A: ``(N, K)`` non-negative coefficients.

    Returns:
        ``(N, K)`` rows on the simplex.

    """
    sums = A.sum(axis=1, keepdims=True)
    uniform = np.full_like(A, 1.0 / A.shape[1])
    return np.divide(A, sums, out=uniform, where=sums > 0)


class BaseUnmixer(BaseEstimator, ABC):
    """Common ``fit`` and export logic; subclasses implement :meth:`_unmix`.

    Subclasses take ``num_endmembers`` and ``seed`` as their first parameters.
    """

    method: ClassVar[str]
    """Short name stored as the ``method`` attribute of ``results.h5``."""

    num_endmembers: int
    seed: int | None

    @abstractmethod
    def _unmix(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(E (B, K), A (N, K))`` for checked data ``X`` ``(N, B)``."""

    def fit(self, X: ArrayLike, y: object = None) -> BaseUnmixer:
        """Unmix ``X`` and set the fitted attributes.

        Args:
            X: ``(N, B)`` pixels × bands.
            y: ignored (scikit-learn convention).

        Returns:
            ``self``.

        """
        data = check_data(X, self.num_endmembers)
        endmembers, abundances = self._unmix(data)
        self.endmembers_ = endmembers
        self.abundances_ = abundances
        self.reconstruction_ = abundances @ endmembers.T
        self.reconstruction_error_ = np.radians(spectral_angle_deg(data, self.reconstruction_))
        return self

    def fit_transform(self, X: ArrayLike, y: object = None) -> np.ndarray:
        """Fit and return the ``(N, K)`` abundances."""
        return self.fit(X).abundances_

    def to_result(
        self,
        wavenumbers: ArrayLike,
        image_shape: tuple[int, int],
        attrs: Mapping[str, object] | None = None,
    ) -> UnmixingResult:
        """Pack the fit into the ``results.h5`` contract.

        The baseline has no preprocessing of its own, so ``endmembers_model`` equals
        ``endmembers`` (the units of the data it was fitted on); band weights are all ones
        and the band diagnostics zeros, as for a SAD run.

        Args:
            wavenumbers: ``(B,)`` axis of the fitted data.
            image_shape: ``(H, W)`` with ``H·W = N``, the pixels in row-major order.
            attrs: further root attributes (e.g. ``config``); they override the defaults
                ``method``, ``num_endmembers``, ``seed``, ``version`` and ``params``.

        Returns:
            The result, ready for :func:`~ftir_unmixer.io.results_file.write_results`.

        Raises:
            FTIRUnmixerError: if the axis or the image shape do not fit the data.

        """
        num_pixels, num_bands = self.reconstruction_.shape
        height, width = image_shape
        wn = np.asarray(wavenumbers, dtype=np.float64)
        if wn.shape != (num_bands,) or height * width != num_pixels:
            raise FTIRUnmixerError(
                f"the fit has {num_pixels} pixels and {num_bands} bands but got an image of "
                f"{height}×{width} and {wn.size} wavenumbers; pass the shape and axis of the "
                "fitted cube."
            )
        zeros = np.zeros(num_bands, dtype=np.float32)
        return UnmixingResult(
            abundances=self.abundances_.reshape(height, width, -1),
            endmembers=self.endmembers_,
            endmembers_model=self.endmembers_,
            wavenumbers=wn,
            band_weights=np.ones(num_bands, dtype=np.float32),
            band_diagnostics={name: zeros for name in DIAGNOSTIC_NAMES},
            reconstruction_error=self.reconstruction_error_.reshape(height, width),
            attrs={
                "method": self.method,
                "num_endmembers": self.num_endmembers,
                "seed": self.seed,
                "version": __version__,
                "params": self.get_params(),
            }
            | dict(attrs or {}),
        )
