r"""What every classical baseline shares: input checks, fitted attributes, whole-cube unmixing.

A baseline is a scikit-learn-style estimator: ``fit(X)`` with ``X`` of shape ``(N, B)`` (pixels ×
bands) sets

* ``endmembers_`` ``(B, K)``: the endmember spectra, in the units of ``X``;
* ``abundances_`` ``(N, K)``: non-negative, each row summing to one;
* ``reconstruction_`` ``(N, B)``: :math:`\mathbf A \mathbf E^\top`;
* ``reconstruction_error_`` ``(N,)``: per-pixel spectral angle between ``X`` and the
  reconstruction, in radians (the ``reconstruction_error`` of ``results.h5``).

:meth:`BaseUnmixer.unmix_cube` fits a whole cube and returns the
:class:`~ftir_unmixer.unmixing.CubeUnmixing` the network returns too, so a baseline run writes
the same ``results.h5`` as the CNN.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import ReconstructionSums
from ftir_unmixer.evaluation.spectral_angles import spectral_angle_deg
from ftir_unmixer.unmixing import CubeUnmixing

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

    def unmix_cube(self, cube: ArrayLike, mask: ArrayLike) -> CubeUnmixing:
        """Fit every pixel of an ``(H, W, B)`` cube and return the result as the network does.

        The baseline fits the data directly by least squares, so its endmembers are in the
        units of the cube and the reconstruction scale is 1; its loss has no band weights.

        Args:
            cube: ``(H, W, B)`` preprocessed cube (masked pixels hold finite stand-ins).
            mask: ``(H, W)`` valid pixels, over which the reconstruction is summarised.

        Returns:
            The abundance maps, endmembers, per-pixel angles and reconstruction sums, with
            the baseline's parameters as the ``params`` attribute.
        """
        cube = np.asarray(cube)
        height, width, bands = cube.shape
        self.fit(cube.reshape(-1, bands))
        return CubeUnmixing(
            abundances=self.abundances_.reshape(height, width, -1),
            endmembers_model=self.endmembers_,
            reconstruction_angle=self.reconstruction_error_.reshape(height, width),
            sums=ReconstructionSums.of(
                cube, self.reconstruction_.reshape(height, width, bands).astype(np.float32), mask
            ),
            scale=1.0,
            band_weights=np.ones(bands, np.float32),
            attrs={"params": self.get_params()},
        )
