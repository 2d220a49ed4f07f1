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

from ftir_unmixer.band_weights import BandWeightConfig, BandWeightEstimate, estimate_band_weights
from ftir_unmixer.data.out_of_core import DiskPatchReader, PreprocessedRows, scan_cube
from ftir_unmixer.data.patches import (
    CentreDataset,
    PatchGatherer,
    RandomCentreSampler,
    keep_batch,
    valid_patch_centres,
    window_centres,
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
from ftir_unmixer.io.input_checks import mask_bad_pixels, validate_input
from ftir_unmixer.io.input_file import HyperspectralData, check_file, read_input

log = logging.getLogger(__name__)

MODES = ("patches", "full_image")
"""Values of ``data.mode``."""


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
    gathers the patches from the cube on the batch's device. After setup, ``input_path`` is the
    file that was read, ``data.cube`` holds the preprocessed cube (the raw one is released to
    save memory) and ``cube`` is the same array as a tensor.

    With ``out_of_core=True`` the cube stays on disk (``data.cube`` is a
    :class:`~ftir_unmixer.io.disk_cube.DiskCube`): one streamed pass finds the non-finite
    pixels and draws a seeded sample of at most ``sample_pixels`` pixels, on which the
    normaliser and the band weights are fitted; batches are read from the file by the
    DataLoader and the end-of-run inference streams the cube in row blocks (see
    :mod:`ftir_unmixer.data.out_of_core`). ``source`` is what inference reads: the cube
    tensor in memory, or a :class:`~ftir_unmixer.data.out_of_core.PreprocessedRows` view.

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
        band_weight_config: settings of Eq. 11–13 (``loss.band_weights``).
        synthetic: generator settings for the bundled scene (used when ``path`` is None).
        data_dir: where the bundled scene is cached.
        num_workers: DataLoader workers (0: batches are cheap index tensors; out of core,
            workers read batches ahead from the file).
        out_of_core: leave the cube on disk (cubes larger than memory).
        sample_pixels: out of core, the largest pixel sample for the normaliser and the band
            weights.
        inference_block_rows: rows per block of the end-of-run inference (None: the whole
            cube at once in memory, blocks of about 128 MB out of core).
        mode: ``patches`` (the paper: random p×p patches) or ``full_image``: every step sees
            whole images, or random ``crop_size`` crops, with the masked pixels left out of
            the loss instead of the patches that contain them. ``patches_per_epoch`` then
            counts images (crops) per epoch and ``batch_size`` images per step. A different
            estimator: each pixel's encoder sees its real neighbours instead of a zero-padded
            5×5 window, and the loss weighs every pixel once per step.
        crop_size: ``[h, w]`` of the full-image crops; None: the whole image.
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
        band_weight_config: BandWeightConfig | Mapping | None = None,
        synthetic: SyntheticConfig | None = None,
        data_dir: str | os.PathLike[str] = "data",
        num_workers: int = 0,
        out_of_core: bool = False,
        sample_pixels: int = 50_000,
        inference_block_rows: int | None = None,
        mode: str = "patches",
        crop_size: Sequence[int] | None = None,
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
        if sample_pixels < 1 or (inference_block_rows is not None and inference_block_rows < 1):
            raise FTIRUnmixerError(
                "data.sample_pixels and data.inference_block_rows must be positive integers "
                "(inference_block_rows may be null)."
            )
        if mode not in MODES:
            raise FTIRUnmixerError(f"data.mode={mode!r} is unknown; use one of {list(MODES)}.")
        if mode == "full_image" and out_of_core:
            raise FTIRUnmixerError(
                "data.mode=full_image needs the cube in memory; set data.out_of_core=false or "
                "train on patches (data.mode=patches)."
            )
        if crop_size is not None and (len(crop_size) != 2 or min(crop_size) < 1):
            raise FTIRUnmixerError(
                f"data.crop_size={list(crop_size)} must be [rows, cols] of positive integers "
                "or null (the whole image)."
            )
        if out_of_core and baseline:
            raise FTIRUnmixerError(
                "data.baseline cannot be combined with data.out_of_core=true (baseline removal "
                "needs every spectrum in memory); remove baselines before converting the file "
                "or set data.out_of_core=false."
            )
        if path is None and synthetic is None:
            raise FTIRUnmixerError(
                "data.path is null and no synthetic scene is configured; set data.path to "
                "your input HDF5 file."
            )
        if path is not None:
            check_file(Path(path), "data.path")
        if isinstance(band_weight_config, Mapping):
            band_weight_config = BandWeightConfig.from_mapping(band_weight_config)
        self.path = Path(path) if path is not None else None
        self.input_path: Path | None = None
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
        self.band_weight_config = band_weight_config or BandWeightConfig()
        self.synthetic = synthetic
        self.data_dir = Path(data_dir)
        self.num_workers = num_workers
        self.out_of_core = out_of_core
        self.sample_pixels = sample_pixels
        self.inference_block_rows = inference_block_rows
        self.mode = mode
        self.crop_size = tuple(crop_size) if crop_size is not None else None
        self.mask_gatherer: PatchGatherer | None = None
        self.data: HyperspectralData | None = None
        self.normalizer: Normalizer | None = None
        self.band_weight_estimate: BandWeightEstimate | None = None
        self.cube: torch.Tensor | None = None
        self.centres: np.ndarray | None = None
        self.gatherer: PatchGatherer | None = None
        self.source: torch.Tensor | PreprocessedRows | None = None
        self.sample: np.ndarray | None = None

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
        if self.source is not None:
            return
        self.input_path = self.resolve_path()
        if self.out_of_core:
            self._setup_on_disk(self.input_path)
        else:
            self._setup_in_memory(self.input_path)
        log.info(
            "Set up: %d×%d×%d cube, %d valid patch centres, band weights from %d pixels",
            *self.source.shape,
            len(self.centres),
            len(self.sample) if self.out_of_core else int(self.data.mask.sum()),
        )

    def _patch_centres(self, mask: np.ndarray, path: Path) -> np.ndarray:
        height, width = mask.shape
        if self.mode == "full_image":
            crop = self.crop_size or (height, width)
            if crop[0] > height or crop[1] > width:
                raise FTIRUnmixerError(
                    f"data.crop_size={list(crop)} is larger than the image ({height}×{width} "
                    f"pixels in {path}); choose a smaller crop or null for the whole image."
                )
            return window_centres((height, width), crop)
        if self.patch_size > min(height, width):
            largest = min(height, width) - (min(height, width) % 2 == 0)
            raise FTIRUnmixerError(
                f"data.patch_size={self.patch_size} is larger than the image ({height}×{width} "
                f"pixels in {path}); choose an odd patch size of at most {largest}."
            )
        centres = valid_patch_centres(mask, self.patch_size)
        if len(centres) == 0:
            raise FTIRUnmixerError(
                f"{path}: the mask leaves no {self.patch_size}×{self.patch_size} patch of valid "
                "pixels; check the mask or lower data.patch_size."
            )
        return centres

    def _fit(
        self, data: HyperspectralData, pixels: np.ndarray, pixel_index: np.ndarray
    ) -> np.ndarray:
        """Fit the normaliser and the band weights on raw valid ``pixels`` (flat indices).

        Returns:
            The normalised pixels.
        """
        self.normalizer = make_normalizer(self.normalization).fit(pixels)
        normalised = self.normalizer.transform(pixels)
        tile_of_row = np.repeat(np.arange(len(data.tile_rows)), data.tile_rows)
        self.band_weight_estimate = estimate_band_weights(
            normalised,
            data.wavenumbers,
            self.band_weight_config,
            tiles=tile_of_row[pixel_index // data.shape[1]],
        )
        return normalised

    def _setup_in_memory(self, path: Path) -> None:
        data = validate_input(
            read_input(path), max_bad_fraction=self.max_bad_fraction, option="data.max_bad_fraction"
        )
        centres = self._patch_centres(data.mask, path)
        data = select_bands(data, band_selection(data.wavenumbers, self.crop, self.drop_windows))
        if self.baseline is not None:
            log.info("Removing a %s baseline from every pixel", self.baseline["method"])
            data.cube = remove_baseline(
                data.cube, data.wavenumbers, self.baseline["method"], self.baseline.get("params")
            )
        self._fit(data, data.cube[data.mask], np.flatnonzero(data.mask))
        data.cube = self.normalizer.transform(data.cube)  # keep one copy of the cube in memory
        self.data = data
        self.centres = centres
        self.cube = torch.from_numpy(np.ascontiguousarray(data.cube))
        self.source = self.cube
        if self.mode == "full_image":
            window = self.crop_size or data.mask.shape
            self.gatherer = PatchGatherer(self.cube, window)
            self.mask_gatherer = PatchGatherer(torch.from_numpy(data.mask[..., None]), window)
        else:
            self.gatherer = PatchGatherer(self.cube, self.patch_size)

    def _setup_on_disk(self, path: Path) -> None:
        data = read_input(path, load_cube=False)
        data = select_bands(data, band_selection(data.wavenumbers, self.crop, self.drop_windows))
        log.info(
            "Scanning %s (%.1f GB) for non-finite pixels and a %d-pixel sample",
            path,
            data.cube.nbytes / 1e9,
            min(self.sample_pixels, data.mask.size),
        )
        scan = scan_cube(data.cube, self.sample_pixels, self.seed)
        data.mask = mask_bad_pixels(
            data.mask, scan.finite, str(path), self.max_bad_fraction, "data.max_bad_fraction"
        )
        valid = data.mask.reshape(-1)[scan.sample_index]
        if not valid.any():
            raise FTIRUnmixerError(
                f"{path}: the pixel sample holds no valid pixel; raise data.sample_pixels."
            )
        centres = self._patch_centres(data.mask, path)
        index = scan.sample_index[valid]
        sample = scan.sample if valid.all() else scan.sample[valid]
        del scan  # the raw sample is not needed once the valid pixels are picked
        self.sample = self._fit(data, sample, index)
        self.data = data
        self.centres = centres
        self.source = PreprocessedRows(data.cube, self.normalizer, np.median(sample, axis=0))

    @property
    def preprocessing(self) -> dict[str, object]:
        """The preprocessing settings, as recorded in the results' attributes."""
        return {
            "crop": self.crop,
            "drop_windows": self.drop_windows,
            "baseline": self.baseline,
            "normalization": self.normalization,
        }

    def valid_pixels(self) -> np.ndarray:
        """``(N, B)`` preprocessed valid pixels: all of them in memory, the sample out of core."""
        return self.sample if self.out_of_core else self.data.cube[self.data.mask]

    @property
    def num_bands(self) -> int:
        """B."""
        return int(self.source.shape[2])

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
            collate_fn=DiskPatchReader(self.source, self.patch_size)
            if self.out_of_core
            else keep_batch,
            num_workers=self.num_workers,
        )

    def on_after_batch_transfer(
        self, batch: torch.Tensor, dataloader_idx: int
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Turn a batch of centres into ``(n, B, p, p)`` patches on the batch's device.

        Out of core the DataLoader has already read the patches from the file. In the
        full-image mode the batch is ``(windows (n, B, h, w), valid pixels (n, h, w))``.
        """
        if self.out_of_core:
            return batch
        if self.mode == "full_image":
            return self.gatherer(batch), self.mask_gatherer(batch)[:, 0]
        return self.gatherer(batch)
