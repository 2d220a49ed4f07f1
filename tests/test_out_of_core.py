"""Out-of-core mode: a cube read from disk, a bounded pixel sample, block-wise inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import TINY_RUN, TINY_SCENE, assert_scored_against_ground_truth
from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.data.out_of_core import sample_positions, scan_cube
from ftir_unmixer.data.patches import PatchGatherer
from ftir_unmixer.data.synthetic import SyntheticConfig
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import read_input, write_input
from ftir_unmixer.io.results_file import read_results
from ftir_unmixer.models.module import FTIRUnmixerModule
from ftir_unmixer.training.pipeline import run

TINY = SyntheticConfig(num_tiles=2, tile_rows=12, tile_cols=10, num_bands=60, step=48.2)


@pytest.fixture
def three_tiles(tmp_path):
    """A 3-tile file (5 + 7 + 4 rows) with NaN in two pixels and a masked pixel."""
    rng = np.random.default_rng(0)
    cube = rng.uniform(size=(16, 9, 11)).astype(np.float32)
    cube[3, 4, 2] = np.nan
    cube[10, 0, :] = np.inf
    mask = np.ones((16, 9), dtype=bool)
    mask[14, 8] = False
    path = tmp_path / "cube.h5"
    write_input(
        path,
        {"a": cube[:5], "b": cube[5:12], "c": cube[12:]},
        np.linspace(4000.0, 1000.0, 11),
        mask=mask,
    )
    return path, cube, mask


def test_disk_cube_reads_windows_across_tiles(three_tiles):
    path, cube, _ = three_tiles
    disk = read_input(path, load_cube=False).cube
    assert disk.shape == cube.shape
    np.testing.assert_array_equal(disk.window(3, 13, 2, 7), cube[3:13, 2:7])
    np.testing.assert_array_equal(disk.rows(0, 16), cube)
    keep = np.zeros(11, dtype=bool)
    keep[[1, 4, 5]] = True
    np.testing.assert_array_equal(disk.select_bands(keep).rows(11, 13), cube[11:13][..., keep])
    centres = np.array([[4, 1], [11, 7], [6, 4]])
    gathered = PatchGatherer(torch.from_numpy(np.nan_to_num(cube)), 3)(torch.from_numpy(centres))
    patches = np.nan_to_num(disk.patches(centres, 3))
    np.testing.assert_array_equal(torch.from_numpy(patches).permute(0, 3, 1, 2), gathered)


def test_scan_finds_non_finite_pixels_and_a_seeded_bounded_sample(three_tiles):
    path, cube, _ = three_tiles
    disk = read_input(path, load_cube=False).cube
    scan = scan_cube(disk, sample_pixels=50, seed=3)
    np.testing.assert_array_equal(scan.finite, np.isfinite(cube).all(axis=2))
    assert len(scan.sample_index) == 50 and np.all(np.diff(scan.sample_index) > 0)
    np.testing.assert_array_equal(scan.sample_index, sample_positions(16 * 9, 50, seed=3))
    np.testing.assert_array_equal(scan.sample, cube.reshape(-1, 11)[scan.sample_index])
    assert not np.array_equal(scan.sample_index, sample_positions(16 * 9, 50, seed=4))
    np.testing.assert_array_equal(sample_positions(10, 50, seed=3), np.arange(10))


def test_full_sample_reproduces_the_in_memory_setup(three_tiles):
    path, _, _ = three_tiles
    with pytest.warns(UserWarning, match="2 of 144 pixels contain NaN or Inf"):
        memory = FTIRDataModule(path, patch_size=3, normalization="band_minmax")
        memory.setup()
    with pytest.warns(UserWarning, match="2 of 144 pixels contain NaN or Inf"):
        disk = FTIRDataModule(path, patch_size=3, out_of_core=True, sample_pixels=10**6)
        disk.setup()
    np.testing.assert_array_equal(disk.data.mask, memory.data.mask)
    np.testing.assert_array_equal(disk.centres, memory.centres)
    np.testing.assert_array_equal(disk.normalizer.lo_, memory.normalizer.lo_)
    np.testing.assert_allclose(
        disk.band_weight_estimate.weights, memory.band_weight_estimate.weights
    )
    np.testing.assert_allclose(disk.source.rows(0, 16), memory.data.cube, rtol=1e-6)
    centres = torch.from_numpy(memory.centres[[0, 5, 17]])
    np.testing.assert_allclose(
        disk.train_dataloader().collate_fn(centres), memory.gatherer(centres), rtol=1e-6
    )


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate"])
def test_block_wise_inference_equals_whole_cube_inference(padding_mode):
    torch.manual_seed(0)
    cube = torch.rand(23, 8, 30)
    module = FTIRUnmixerModule(30, num_endmembers=4, hidden_channels=6, padding_mode=padding_mode)
    module.train()
    module.net(cube.permute(2, 0, 1)[None])  # move the batch-norm statistics off their start
    mask = np.ones((23, 8), dtype=bool)
    mask[5, 2] = False
    whole = module.unmix_cube(cube, mask)
    blocks = module.unmix_cube(cube, mask, block_rows=4)
    np.testing.assert_allclose(blocks.abundances, whole.abundances, atol=1e-6)
    np.testing.assert_allclose(blocks.reconstruction_angle, whole.reconstruction_angle, atol=1e-6)
    assert blocks.scale == pytest.approx(whole.scale, rel=1e-6)
    for key, value in whole.sums.metrics().items():
        assert blocks.sums.metrics()[key] == pytest.approx(value, rel=1e-5)
    np.testing.assert_allclose(blocks.abundances.sum(axis=2), 1.0, atol=1e-5)


def test_circular_padding_refuses_blocks():
    module = FTIRUnmixerModule(30, num_endmembers=4, hidden_channels=6, padding_mode="circular")
    with pytest.raises(FTIRUnmixerError, match="circular"):
        module.unmix_cube(torch.rand(9, 8, 30), block_rows=4)


def test_out_of_core_run_writes_the_results_contract(compose_train, tmp_path):
    cfg = compose_train(
        [
            *TINY_RUN,
            "data.out_of_core=true",
            "data.sample_pixels=150",
            "data.inference_block_rows=5",
        ]
    )
    metrics = run(cfg)
    result = read_results(tmp_path / "run" / "results.h5")
    assert result.abundances.shape == (24, 10, 4)
    np.testing.assert_allclose(result.abundances.sum(axis=2), 1.0, atol=1e-5)
    assert np.all(result.endmembers_model >= 0)
    assert_scored_against_ground_truth(result, metrics)
    assert result.attrs["global_step"] == 6


def test_out_of_core_refuses_what_needs_the_cube_in_memory(compose_train):
    with pytest.raises(FTIRUnmixerError, match="data.out_of_core=true"):
        run(compose_train([*TINY_SCENE, "logger=none", "data.out_of_core=true", "model=nmf"]))
    with pytest.raises(FTIRUnmixerError, match="data.baseline cannot be combined"):
        FTIRDataModule(synthetic=TINY, out_of_core=True, baseline={"method": "rubberband"})
