r"""What every unmixing method shares: the range of K, and its output on a whole cube.

The network (:meth:`~ftir_unmixer.models.module.FTIRUnmixerModule.unmix_cube`) and the
classical baselines (:meth:`~ftir_unmixer.baselines.base.BaseUnmixer.unmix_cube`) both return a
:class:`CubeUnmixing`, from which :mod:`ftir_unmixer.training.results` writes the same results
for every method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import ReconstructionSums


def check_num_endmembers(num_endmembers: int, num_bands: int) -> None:
    """Refuse an impossible K: unmixing needs ``2 ≤ K < B``.

    Raises:
        FTIRUnmixerError: naming ``model.num_endmembers`` and the valid range.
    """
    if not 2 <= num_endmembers < num_bands:
        raise FTIRUnmixerError(
            f"model.num_endmembers={num_endmembers} is impossible for {num_bands} bands; "
            f"choose K with 2 ≤ K < {num_bands}."
        )


@dataclass
class CubeUnmixing:
    r"""A method applied to a whole preprocessed cube.

    SAD and WSAD (Eq. 6) are invariant to the scale of :math:`\hat{\mathbf x}`, so the
    network's decoder has an arbitrary overall scale. ``scale`` is the least-squares factor
    :math:`s = \sum \hat x^2 / \sum x \hat x` over the valid pixels
    (:attr:`ReconstructionSums.scale`): :math:`\hat{\mathbf X} / s` is the best fit of the data
    by a multiple of the reconstruction, and dividing the endmembers by it (abundances sum to
    one) puts them in the data's units. Methods fitted by least squares report 1.

    Attributes:
        abundances: ``(H, W, K)`` abundance maps.
        endmembers_model: ``(B, K)`` endmembers in the preprocessed space (Eq. 5 for the
            network).
        endmembers_fit: ``(B, K)`` the endmembers the results report (mapped to input
            units), when they differ from ``endmembers_model``: the network's with their
            nuisance components removed, or refitted (``model.refit``); None: the same.
        reconstruction_angle: ``(H, W)`` per-pixel spectral angle between input and
            reconstruction, in radians.
        sums: the reconstruction's sums over the valid pixels, unscaled, from which the
            diagnostics follow without keeping the reconstructed cube.
        scale: ``s`` above.
        band_weights: ``(B,)`` the band weights of the method's loss (all 1 without weights).
        attrs: further attributes the method stores in ``results.h5`` (e.g. a baseline's
            parameters).
    """

    abundances: np.ndarray
    endmembers_model: np.ndarray
    reconstruction_angle: np.ndarray
    sums: ReconstructionSums
    scale: float
    band_weights: np.ndarray
    attrs: dict[str, object] = field(default_factory=dict)
    endmembers_fit: np.ndarray | None = None

    @property
    def endmembers(self) -> np.ndarray:
        """``(B, K)`` the reported endmembers in the preprocessed space, before the scale."""
        return self.endmembers_model if self.endmembers_fit is None else self.endmembers_fit
