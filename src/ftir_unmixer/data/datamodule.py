"""LightningDataModule: input file → cube → preprocessing → band weights → patch batches."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from ftir_unmixer.band_weights import BandWeightConfig, BandWeights, estimate_band_weights
from ftir_unmixer.data.patches import (
    CentreDataset,
    PatchGatherer,
    RandomCentreSampler,
    keep_batch,
    valid_patch_centres,
)
from ftir_unmixer.data.preprocessing import (
    Normalizer,
    band_selection,
    make_normalizer,
    remove_baseline,
    select_bands,
)
from ftir_unmixer.data.synthetic import SyntheticConfig, write_synthetic
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import HyperspectralData, read_input
from ftir_unmixer.io.validate import validate_input

log = logging.getLogger(__name__)


def synthetic_scene_path(config: SyntheticConfig, directory: str | os.PathLike[str]) -> Path:
    """Where the bundled synthetic scene of ``config`` is cached: one file per configuration.

    The name carries a hash of the configuration, so scenes with different settings never
    overwrite each other and parallel jobs asking for the same scene find the same file.
    """
    blob = json.dumps(asdict(config), sort_keys=True, default=str).encode()
    return Path(directory) / f"synthetic_cross_section-{hashlib.sha1(blob).hexdigest()[:10]}.h5"


class FTIRDataModule(L.LightningDataModule):
    """Serve random p×p patches of a preprocessed cube; hold its band weights.

    In :meth:`setup` the input file is read (the bundled synthetic scene is generated on first
    use), non-finite pixels are masked, the cube is normalised, the band-reliability weights
    of Eq. 8–13 are estimated once from the valid pixels of the normalised cube, and the valid
    patch centres are listed. Batches carry only centres; :meth:`on_after_batch_transfer`
    gathers the patches from the cube on the batch's device. After setup, ``data.cube`` holds
    the preprocessed cube (the raw one is released to save memory); ``cube`` is the same
    array as a tensor.

    Args:
        path: input HDF5 file; ``None`` means the bundled synthetic scene of ``synthetic``.
        normalization: ``band_minmax`` (authors' script), ``pixel_l2`` or ``none``.
        crop: ``[lo, hi]`` cm⁻¹ to keep, or None.
        drop_windows: ``[[lo, hi], …]`` cm⁻¹ to remove (e.g. the CO2 doublet).
        baseline: ``{"method": <pybaselines method>, "params": {...}}`` per-pixel baseline
            removal before normalisation, or None.
        patch_size: odd p.
        patches_per_epoch: random patch centres drawn per epoch.
        batch_size: patches per step.
        resample_each_epoch: fresh centres every epoch (False: one set, reshuffled, as the
            authors' script).
        max_bad_fraction: largest tolerated fraction of masked pixels.
        seed: the run's seed; the centre draws derive from it.
        band_weights: settings of Eq. 11–13 (``loss.band_weights``).
        synthetic: generator settings for the bundled scene (used when ``path`` is None).
        data_dir: where the bundled scene is cached.
        num_workers: DataLoader workers (0: batches are cheap index tensors).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        normalization: str = "band_minmax",
        crop: Sequence[float] | None = None,
        drop_windows: Sequence[Sequence[float]] = (),
        baseline: Mapping | None = None,
        patch_size: int = 5,
        patches_per_epoch: int = 20000,
        batch_size: int = 64,
        resample_each_epoch: bool = True,
        max_bad_fraction: float = 0.5,
        seed: int = 42,
        band_weights: BandWeightConfig | Mapping | None = None,
        synthetic: SyntheticConfig | None = None,
        data_dir: str | os.PathLike[str] = "data",
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if patch_size < 1 or patch_size % 2 == 0:
            raise FTIRUnmixerError(
                f"data.patch_size={patch_size} must be a positive odd number (e.g. 5) so "
                "patches have a centre pixel."
            )
        if patches_per_epoch < 1 or batch_size < 1:
            raise FTIRUnmixerError(
                "data.patches_per_epoch and data.batch_size must be positive integers."
            )
        if path is None and synthetic is None:
            raise FTIRUnmixerError(
                "data.path is null and no synthetic scene is configured; set data.path to "
                "your input HDF5 file."
            )
        if isinstance(band_weights, Mapping):
            band_weights = BandWeightConfig.from_mapping(band_weights)
        self.path = Path(path) if path is not None else None
        self.normalization = normalization
        self.crop = list(crop) if crop is not None else None
        self.drop_windows = [list(w) for w in drop_windows]
        self.baseline = dict(baseline) if baseline else None
        if self.baseline is not None and "method" not in self.baseline:
            raise FTIRUnmixerError(
                "data.baseline needs a method, e.g. data.baseline={method: rubberband}."
            )
        make_normalizer(normalization)
        self.patch_size = patch_size
        self.patches_per_epoch = patches_per_epoch
        self.batch_size = batch_size
        self.resample_each_epoch = resample_each_epoch
        self.max_bad_fraction = max_bad_fraction
        self.seed = seed
        self.band_weight_config = band_weights or BandWeightConfig()
        self.synthetic = synthetic
        self.data_dir = Path(data_dir)
        self.num_workers = num_workers
        self.data: HyperspectralData | None = None
        self.normalizer: Normalizer | None = None
        self.band_weights: BandWeights | None = None
        self.cube: torch.Tensor | None = None
        self.centres: np.ndarray | None = None
        self.gatherer: PatchGatherer | None = None

    def resolve_path(self) -> Path:
        """The input file, generating the bundled synthetic scene if it is not cached yet."""
        if self.path is not None:
            return self.path
        path = synthetic_scene_path(self.synthetic, self.data_dir)
        if not path.exists():
            log.info("Generating the bundled synthetic cross-section at %s", path)
            write_synthetic(path, self.synthetic)
        return path

    def prepare_data(self) -> None:
        """Generate the bundled synthetic scene once (rank 0 only under DDP)."""
        self.resolve_path()

    def setup(self, stage: str | None = None) -> None:
        """Read, validate and normalise the cube; estimate band weights; list patch centres."""
        if self.cube is not None:
            return
        path = self.resolve_path()
        data = validate_input(
            read_input(path), max_bad_fraction=self.max_bad_fraction, option="data.max_bad_fraction"
        )
        height, width, _ = data.shape
        if self.patch_size > min(height, width):
            raise FTIRUnmixerError(
                f"data.patch_size={self.patch_size} is larger than the image ({height}×{width} "
                f"pixels in {path}); choose a patch size of at most {min(height, width)}."
            )
        centres = valid_patch_centres(data.mask, self.patch_size)
        if len(centres) == 0:
            raise FTIRUnmixerError(
                f"{path}: the mask leaves no {self.patch_size}×{self.patch_size} patch of valid "
                "pixels; check the mask or lower data.patch_size."
            )
        data = select_bands(data, band_selection(data.wavenumbers, self.crop, self.drop_windows))
        if self.baseline is not None:
            log.info("Removing a %s baseline from every pixel", self.baseline["method"])
            data.cube = remove_baseline(
                data.cube, data.wavenumbers, self.baseline["method"], self.baseline.get("params")
            )
        self.normalizer = make_normalizer(self.normalization).fit(data.cube[data.mask])
        cube = self.normalizer.transform(data.cube)
        data.cube = cube  # the raw cube is not needed any more; keep one copy in memory
        tile_of_row = np.repeat(np.arange(len(data.tile_rows)), data.tile_rows)
        tile_of_pixel = np.broadcast_to(tile_of_row[:, None], data.mask.shape)[data.mask]
        self.band_weights = estimate_band_weights(
            cube[data.mask], data.wavenumbers, self.band_weight_config, tiles=tile_of_pixel
        )
        self.data = data
        self.centres = centres
        self.cube = torch.from_numpy(np.ascontiguousarray(cube))
        self.gatherer = PatchGatherer(self.cube, self.patch_size)

    @property
    def preprocessing(self) -> dict[str, object]:
        """The preprocessing settings, as recorded in the results' attributes."""
        return {
            "crop": self.crop,
            "drop_windows": self.drop_windows,
            "baseline": self.baseline,
            "normalization": self.normalization,
        }

    @property
    def num_bands(self) -> int:
        """B."""
        return int(self.cube.shape[2])

    def train_dataloader(self) -> DataLoader:
        """Batches of patch centres, drawn by :class:`RandomCentreSampler`."""
        sampler = RandomCentreSampler(
            len(self.centres),
            self.patches_per_epoch,
            self.seed,
            rank=self.trainer.global_rank if self.trainer is not None else 0,
            resample_each_epoch=self.resample_each_epoch,
        )
        return DataLoader(
            CentreDataset(self.centres),
            batch_size=self.batch_size,
            sampler=sampler,
            collate_fn=keep_batch,
            num_workers=self.num_workers,
        )

    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> torch.Tensor:
        """Turn a batch of centres into ``(n, B, p, p)`` patches on the batch's device."""
        return self.gatherer(batch)
