r"""Identify endmembers by comparing them with a library of reference spectra.

A :class:`ReferenceLibrary` holds reference spectra read from two-column text exports
(``.dpt``, ``.csv``, ``.txt``, via :func:`ftir_unmixer.io.dpt.read_spectrum_table`), each on its
own wavenumber grid. :func:`identify` resamples every reference onto the endmembers' axis
(:func:`resample_to_grid`: linear, no extrapolation) and scores each endmember
:math:`\mathbf e` against each reference :math:`\mathbf r` over the valid bands
:math:`\mathcal S` (inside the reference's range, finite, band weight > 0) by

* the weighted spectral angle of Eq. 6,
  :math:`\theta = \arccos \frac{\langle \mathbf w \odot \mathbf e, \mathbf w \odot \mathbf r
  \rangle_{\mathcal S}}{\|\mathbf w \odot \mathbf e\|_{\mathcal S}
  \|\mathbf w \odot \mathbf r\|_{\mathcal S}}`, the ranking score (scale-free);
* the Pearson correlation of :math:`\mathbf w \odot \mathbf e` and
  :math:`\mathbf w \odot \mathbf r` over :math:`\mathcal S`, a second score that also ignores a
  constant baseline offset.

The best reference is reported as the match when its angle is at most the threshold
(:data:`DEFAULT_MATCH_THRESHOLD_DEG`), otherwise the endmember has "no match".
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.spectral_angles import pearson_correlation, spectral_angle_deg
from ftir_unmixer.io.dpt import read_spectrum_table

__all__ = [
    "DEFAULT_MATCH_THRESHOLD_DEG",
    "DEFAULT_MIN_BANDS",
    "REFERENCE_SUFFIXES",
    "Candidate",
    "Identification",
    "ReferenceLibrary",
    "ReferenceSpectrum",
    "format_label",
    "identification_labels",
    "identify",
    "resample_to_grid",
]

DEFAULT_MATCH_THRESHOLD_DEG = 15.0
r"""Largest angle (degrees) accepted as a match. :math:`\cos 15° = 0.966`, i.e. a hit-quality
index :math:`100\cos^2\theta \approx 93`, a little stricter than the HQI ≈ 90 often used to
accept an FTIR library hit. It leaves room for the ATR band shifts and intensity changes between
an unmixed endmember and a transmission or pure-compound reference, while two different paint
materials on the same grid are usually further apart."""

DEFAULT_MIN_BANDS = 20
"""A reference that overlaps fewer valid bands than this is not scored: an angle over a handful
of bands says nothing about identity (≈ 40 cm⁻¹ at the 1.93 cm⁻¹ FPA spacing)."""

REFERENCE_SUFFIXES = (".dpt", ".csv", ".txt")
"""File suffixes (case-insensitive) loaded from a library directory."""


def resample_to_grid(src_wn: ArrayLike, src_values: ArrayLike, target_wn: ArrayLike) -> np.ndarray:
    """Linearly resample a spectrum onto another wavenumber axis, without extrapolating.

    Both axes may be ascending or descending (in any combination); the source is sorted before
    :func:`numpy.interp`, and the result follows the order of ``target_wn``.

    Args:
        src_wn: ``(S,)`` source axis, strictly monotonic.
        src_values: ``(S,)`` source values.
        target_wn: ``(B,)`` axis to resample onto.

    Returns:
        ``(B,)`` values; NaN where ``target_wn`` lies outside ``[min(src_wn), max(src_wn)]``.

    """
    src_wn = np.asarray(src_wn, dtype=np.float64)
    src_values = np.asarray(src_values, dtype=np.float64)
    order = np.argsort(src_wn)
    return np.interp(
        np.asarray(target_wn, dtype=np.float64),
        src_wn[order],
        src_values[order],
        left=np.nan,
        right=np.nan,
    )


@dataclass(frozen=True)
class ReferenceSpectrum:
    """One reference spectrum on its own grid.

    Attributes:
        name: the material name shown in labels (the file stem when loaded from a file).
        wavenumbers: ``(S,)`` axis in cm⁻¹, any order.
        values: ``(S,)`` absorbance (or any intensity: the scores are scale-free).
        path: the file it was read from, if any.

    """

    name: str
    wavenumbers: np.ndarray
    values: np.ndarray
    path: Path | None = None


def _library_files(path: Path) -> list[Path]:
    """List the reference files a path stands for (a file, or the files of a directory)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in REFERENCE_SUFFIXES
        )
        if not files:
            raise FTIRUnmixerError(
                f"{path}: the directory holds no {'/'.join(REFERENCE_SUFFIXES)} files; give a "
                "folder of two-column reference spectra."
            )
        return files
    raise FTIRUnmixerError(f"{path}: no such file or directory; check the library path.")


class ReferenceLibrary:
    """An ordered collection of named reference spectra.

    Args:
        spectra: the references.

    Raises:
        FTIRUnmixerError: if the collection is empty.

    """

    def __init__(self, spectra: Iterable[ReferenceSpectrum]) -> None:
        self.spectra = list(spectra)
        if not self.spectra:
            raise FTIRUnmixerError(
                "the reference library is empty; give at least one reference spectrum file."
            )

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]]) -> ReferenceLibrary:
        """Load two-column text spectra from files and directories.

        A directory contributes every ``.dpt``, ``.csv`` and ``.txt`` file below it
        (recursively, sorted by path). Each spectrum is named after its file stem.

        Args:
            paths: files or directories.

        Returns:
            The library, in the order given (directories expanded in sorted order).

        Raises:
            FTIRUnmixerError: for a missing path, an empty directory or an unreadable file.

        """
        spectra = []
        for path in paths:
            for file in _library_files(Path(path)):
                wavenumbers, values = read_spectrum_table(file)
                spectra.append(ReferenceSpectrum(file.stem, wavenumbers, values, file))
        return cls(spectra)

    @property
    def names(self) -> list[str]:
        """The reference names, in order."""
        return [s.name for s in self.spectra]

    def __len__(self) -> int:
        return len(self.spectra)

    def __iter__(self) -> Iterator[ReferenceSpectrum]:
        return iter(self.spectra)

    def on_grid(self, wavenumbers: ArrayLike) -> np.ndarray:
        """All references resampled onto one axis.

        Args:
            wavenumbers: ``(B,)`` target axis.

        Returns:
            ``(B, R)`` values, NaN outside each reference's range.

        """
        return np.stack(
            [resample_to_grid(s.wavenumbers, s.values, wavenumbers) for s in self.spectra], axis=1
        )


@dataclass(frozen=True)
class Candidate:
    """One reference scored against one endmember.

    Attributes:
        reference: the reference name.
        angle_deg: weighted spectral angle over the valid bands, in degrees.
        correlation: weighted Pearson correlation over the same bands.
        num_bands: number of valid bands the scores were computed on.

    """

    reference: str
    angle_deg: float
    correlation: float
    num_bands: int


@dataclass(frozen=True)
class Identification:
    """The library search result of one endmember.

    Attributes:
        endmember: the endmember index (0-based column of the endmember matrix).
        candidates: the best references, smallest angle first (up to ``top``).
        match: the best candidate if its angle is within the threshold, else None.

    """

    endmember: int
    candidates: tuple[Candidate, ...]
    match: Candidate | None


def identify(
    endmembers: ArrayLike,
    wavenumbers: ArrayLike,
    library: ReferenceLibrary,
    band_weights: ArrayLike | None = None,
    threshold_deg: float = DEFAULT_MATCH_THRESHOLD_DEG,
    *,
    top: int = 3,
    min_bands: int = DEFAULT_MIN_BANDS,
) -> list[Identification]:
    """Rank the library references for every endmember.

    Args:
        endmembers: ``(B, K)`` endmember spectra (columns), e.g. ``results.h5/endmembers``.
        wavenumbers: ``(B,)`` their axis in cm⁻¹, any order.
        library: the reference spectra.
        band_weights: ``(B,)`` non-negative weights (e.g. the WSAD weights of the run);
            bands with weight 0 are ignored. Uniform by default.
        threshold_deg: largest angle accepted as a match.
        top: number of candidates kept per endmember.
        min_bands: references overlapping fewer valid bands are not scored.

    Returns:
        One :class:`Identification` per endmember, in column order. Its candidate list is
        shorter than ``top`` (possibly empty) if fewer references could be scored.

    Raises:
        FTIRUnmixerError: if the axis or the weights do not match the endmembers.

    """
    E = np.asarray(endmembers, dtype=np.float64)
    wn = np.asarray(wavenumbers, dtype=np.float64)
    if E.ndim != 2 or wn.shape != (E.shape[0],):
        raise FTIRUnmixerError(
            f"the endmembers have shape {E.shape} but the wavenumber axis has {wn.size} values; "
            "give a (bands, endmembers) matrix with its own axis."
        )
    weights = np.ones_like(wn) if band_weights is None else np.asarray(band_weights, np.float64)
    if weights.shape != wn.shape:
        raise FTIRUnmixerError(
            f"the band weights have {weights.size} values but the endmembers {wn.size} bands; "
            "pass the weights of the same run."
        )
    references = library.on_grid(wn)
    usable = (weights > 0) & np.all(np.isfinite(E), axis=1)
    scores: list[list[Candidate]] = [[] for _ in range(E.shape[1])]
    for name, ref in zip(library.names, references.T, strict=True):
        bands = usable & np.isfinite(ref)
        num_bands = int(bands.sum())
        if num_bands < min_bands:
            continue
        angles = spectral_angle_deg(E.T, ref, band_mask=bands, weights=weights)
        correlations = pearson_correlation(E.T, ref, band_mask=bands, weights=weights)
        for k in range(E.shape[1]):
            scores[k].append(Candidate(name, float(angles[k]), float(correlations[k]), num_bands))
    identifications = []
    for k, candidates in enumerate(scores):
        best = tuple(sorted(candidates, key=lambda c: c.angle_deg)[:top])
        match = best[0] if best and best[0].angle_deg <= threshold_deg else None
        identifications.append(Identification(k, best, match))
    return identifications


def format_label(match: Candidate | None) -> str:
    """Format a short label for figures and tables: ``"lead soap, 4.1°"`` or ``"no match"``.

    Args:
        match: an :attr:`Identification.match`.

    Returns:
        The label.

    """
    return "no match" if match is None else f"{match.reference}, {match.angle_deg:.1f}°"


def identification_labels(identifications: Sequence[Identification]) -> list[str]:
    """Return the :func:`format_label` of every endmember, in order (figure titles)."""
    return [format_label(ident.match) for ident in identifications]
