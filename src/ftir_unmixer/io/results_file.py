"""The results HDF5 contract (``results.h5``) and the ``endmembers.csv`` export.

Layout (docs/file-formats.md describes each item)::

    abundances              (H, W, K) float32  ≥ 0, sum to 1 over K
    endmembers              (B, K)    float32  in the units of the input cube
    endmembers_model        (B, K)    float32  Eq. 5 as the decoder holds it, ≥ 0
    wavenumbers             (B,)      float64  input order
    band_weights            (B,)      float32  w of Eq. 13 used by the loss
    band_diagnostics/{corr_deficit,roughness,flatness,score}  (B,) float32
    reconstruction_error    (H, W)    float32  per-pixel SAD (radians)
    learning_curve/{epoch,step,mean_angle_deg,mean_angle_clean_deg,angle_deg}  optional
    attrs: config, loss, num_endmembers, seed, version, metrics …
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.atomic import atomic_path

PathLike = str | os.PathLike[str]

DIAGNOSTIC_NAMES = ("corr_deficit", "roughness", "flatness", "score")
LEARNING_CURVE_GROUP = "learning_curve"


@dataclass
class LearningCurve:
    """The decoder endmembers' matched angle to the ground truth during training.

    Attributes:
        epoch: ``(T,)`` epochs completed when each point was taken (0: before training).
        step: ``(T,)`` the global step of each point.
        mean_angle_deg: ``(T,)`` ``gt/mean_angle_deg`` of the endmembers at that point.
        mean_angle_clean_deg: ``(T,)`` ``gt/mean_angle_clean_deg``.
        angle_deg: ``(T, M)`` ``gt/angle_deg/<material>`` (NaN while a material is unmatched).
        materials: the ``M`` material names.
    """

    epoch: np.ndarray
    step: np.ndarray
    mean_angle_deg: np.ndarray
    mean_angle_clean_deg: np.ndarray
    angle_deg: np.ndarray
    materials: list[str]

    def write(self, group: h5py.Group) -> None:
        """Store the curve's datasets in ``group`` and the material names as its attribute."""
        group.create_dataset("epoch", data=np.asarray(self.epoch, np.int64))
        group.create_dataset("step", data=np.asarray(self.step, np.int64))
        for name in ("mean_angle_deg", "mean_angle_clean_deg", "angle_deg"):
            group.create_dataset(name, data=np.asarray(getattr(self, name), np.float64))
        group.attrs["materials"] = json.dumps(list(self.materials))

    @classmethod
    def read(cls, group: h5py.Group) -> LearningCurve:
        """The curve stored in ``group`` by :meth:`write`."""
        return cls(
            epoch=group["epoch"][()],
            step=group["step"][()],
            mean_angle_deg=group["mean_angle_deg"][()],
            mean_angle_clean_deg=group["mean_angle_clean_deg"][()],
            angle_deg=group["angle_deg"][()],
            materials=json.loads(group.attrs["materials"]),
        )


@dataclass
class UnmixingResult:
    """Everything a run writes to ``results.h5``.

    Attributes:
        abundances: ``(H, W, K)`` abundance maps.
        endmembers: ``(B, K)`` endmembers in input units.
        endmembers_model: ``(B, K)`` endmembers in the model's (preprocessed) space.
        wavenumbers: ``(B,)`` axis in cm⁻¹.
        band_weights: ``(B,)`` weights used by the loss.
        band_diagnostics: the four ``(B,)`` diagnostics keyed by ``DIAGNOSTIC_NAMES``.
        reconstruction_error: ``(H, W)`` per-pixel SAD in radians.
        attrs: root attributes (``config``, ``loss``, ``num_endmembers``, ``seed``,
            ``version`` and scalar metrics).
        learning_curve: the network's learning curve, when it was recorded (ground truth
            and ``callbacks.gt_curve.every_n_epochs`` > 0).
    """

    abundances: np.ndarray
    endmembers: np.ndarray
    endmembers_model: np.ndarray
    wavenumbers: np.ndarray
    band_weights: np.ndarray
    band_diagnostics: dict[str, np.ndarray]
    reconstruction_error: np.ndarray
    attrs: dict[str, object] = field(default_factory=dict)
    learning_curve: LearningCurve | None = None

    @property
    def num_endmembers(self) -> int:
        """K."""
        return int(self.endmembers.shape[1])

    @property
    def metrics(self) -> dict[str, float]:
        """The numeric root attributes (metrics and scalar provenance)."""
        return {
            k: float(v)
            for k, v in self.attrs.items()
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        }


def _attr_value(value: object) -> object:
    if isinstance(value, Mapping | list | tuple) and not isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    return value


def write_results(path: PathLike, result: UnmixingResult) -> Path:
    """Write ``results.h5`` atomically.

    Args:
        path: destination file.
        result: the arrays and attributes to write.

    Returns:
        The written path.
    """
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("abundances", data=np.asarray(result.abundances, np.float32))
        f.create_dataset("endmembers", data=np.asarray(result.endmembers, np.float32))
        f.create_dataset("endmembers_model", data=np.asarray(result.endmembers_model, np.float32))
        f.create_dataset("wavenumbers", data=np.asarray(result.wavenumbers, np.float64))
        f.create_dataset("band_weights", data=np.asarray(result.band_weights, np.float32))
        diag = f.create_group("band_diagnostics")
        for name in DIAGNOSTIC_NAMES:
            diag.create_dataset(name, data=np.asarray(result.band_diagnostics[name], np.float32))
        f.create_dataset(
            "reconstruction_error", data=np.asarray(result.reconstruction_error, np.float32)
        )
        if result.learning_curve is not None:
            result.learning_curve.write(f.create_group(LEARNING_CURVE_GROUP))
        for key, value in result.attrs.items():
            f.attrs[key] = _attr_value(value)
    return Path(path)


def read_results(path: PathLike) -> UnmixingResult:
    """Read a ``results.h5`` file.

    Args:
        path: the file to read.

    Returns:
        The stored result.

    Raises:
        FTIRUnmixerError: if the file is missing or lacks a contract dataset.
    """
    path = Path(path)
    try:
        with _open_results(path) as f:
            attrs: dict[str, object] = {}
            for key in f.attrs:
                value = f.attrs[key]
                attrs[key] = value.item() if isinstance(value, np.generic) else value
            return UnmixingResult(
                abundances=f["abundances"][()],
                endmembers=f["endmembers"][()],
                endmembers_model=f["endmembers_model"][()],
                wavenumbers=f["wavenumbers"][()],
                band_weights=f["band_weights"][()],
                band_diagnostics={n: f["band_diagnostics"][n][()] for n in DIAGNOSTIC_NAMES},
                reconstruction_error=f["reconstruction_error"][()],
                attrs=attrs,
                learning_curve=LearningCurve.read(f[LEARNING_CURVE_GROUP])
                if LEARNING_CURVE_GROUP in f
                else None,
            )
    except KeyError as exc:
        raise FTIRUnmixerError(
            f"{path}: missing dataset {exc}; this is not a complete ftir-unmixer results file."
        ) from None


def read_learning_curve(path: PathLike) -> LearningCurve:
    """Read only the learning curve of a ``results.h5`` file (not the maps).

    Raises:
        FTIRUnmixerError: if the file is missing or holds no learning curve.
    """
    path = Path(path)
    with _open_results(path) as f:
        if LEARNING_CURVE_GROUP not in f:
            raise FTIRUnmixerError(
                f"{path}: no learning curve; it is recorded for network runs on data with "
                "ground truth while callbacks.gt_curve.every_n_epochs > 0."
            )
        return LearningCurve.read(f[LEARNING_CURVE_GROUP])


@contextmanager
def _open_results(path: Path) -> Iterator[h5py.File]:
    """A results file open for reading; a missing or unreadable file stops with one sentence."""
    if not path.is_file():
        raise FTIRUnmixerError(f"{path}: no such results file; give a run's results.h5.")
    try:
        with h5py.File(path, "r") as f:
            yield f
    except OSError as exc:
        raise FTIRUnmixerError(f"{path}: cannot be read as HDF5 ({exc}).") from None


def write_endmembers_csv(
    path: PathLike,
    wavenumbers: np.ndarray,
    endmembers: np.ndarray,
    names: Sequence[str] | None = None,
) -> Path:
    """Write endmembers as CSV: a ``wavenumber`` column and one column per endmember.

    Args:
        path: destination file.
        wavenumbers: ``(B,)`` axis in cm⁻¹.
        endmembers: ``(B, K)`` spectra.
        names: column names; ``endmember_1 … endmember_K`` by default.

    Returns:
        The written path.
    """
    k = endmembers.shape[1]
    header = ["wavenumber", *(names or [f"endmember_{i + 1}" for i in range(k)])]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for wn, row in zip(wavenumbers, endmembers, strict=True):
            writer.writerow([f"{wn:.6f}", *(f"{v:.8g}" for v in row)])
    return Path(path)
