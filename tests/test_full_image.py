"""Full-image training mode (data.mode=full_image): whole images or crops, masked loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import TINY_RUN, assert_scored_against_ground_truth
from ftir_unmixer.data.patches import PatchGatherer, window_centres
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.results_file import read_results
from ftir_unmixer.losses import SpectralAngleLoss
from ftir_unmixer.training.pipeline import build, run


def test_window_centres_and_gatherer_cover_whole_images_and_crops():
    cube = torch.arange(4 * 6 * 2, dtype=torch.float32).reshape(4, 6, 2)
    whole = window_centres((4, 6), (4, 6))
    np.testing.assert_array_equal(whole, [[2, 3]])
    image = PatchGatherer(cube, (4, 6))(torch.from_numpy(whole))
    np.testing.assert_array_equal(image[0], cube.permute(2, 0, 1))
    crops = window_centres((4, 6), (2, 3))
    assert len(crops) == 3 * 4  # 3 row positions × 4 column positions
    first = PatchGatherer(cube, (2, 3))(torch.from_numpy(crops[:1]))
    np.testing.assert_array_equal(first[0], cube[0:2, 0:3].permute(2, 0, 1))
    # an odd square window is the p×p patch of the patch mode
    np.testing.assert_array_equal(window_centres((4, 6), (3, 3))[0], [1, 1])


def test_masked_loss_averages_only_valid_pixels():
    # pixel 0: angle 0; pixel 1: 90° (orthogonal); pixel 2: 45°
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    x_hat = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    loss = SpectralAngleLoss(dim=-1, clamp=0.0)
    assert loss(x, x_hat).item() == pytest.approx((0 + math.pi / 2 + math.pi / 4) / 3, abs=1e-6)
    mask = torch.tensor([True, False, True])
    assert loss(x, x_hat, mask).item() == pytest.approx(math.pi / 8, abs=1e-6)


@pytest.mark.parametrize("crop", [None, [8, 6]])
def test_full_image_run_writes_the_results_contract(compose_train, tmp_path, crop):
    overrides = [*TINY_RUN, "data.mode=full_image", "data.batch_size=2", "data.patches_per_epoch=4"]
    if crop is not None:
        overrides.append(f"data.crop_size=[{crop[0]},{crop[1]}]")
    metrics = run(compose_train(overrides))
    result = read_results(tmp_path / "run" / "results.h5")
    np.testing.assert_allclose(result.abundances.sum(axis=2), 1.0, atol=1e-5)
    assert result.attrs["global_step"] == 4  # 2 epochs × 4 images / batch 2
    assert_scored_against_ground_truth(result, metrics)


def test_full_image_batches_carry_the_pixel_mask(compose_train):
    cfg = compose_train([*TINY_RUN, "data.mode=full_image", "synthetic.dead_pixel_fraction=0.05"])
    dm = build(cfg.data)
    dm.setup()
    windows, mask = dm.on_after_batch_transfer(torch.from_numpy(dm.centres), 0)
    assert windows.shape == (1, dm.num_bands, 24, 10)
    np.testing.assert_array_equal(mask[0].numpy(), dm.data.mask)
    assert not mask.all()


def test_full_image_settings_are_checked(compose_train):
    with pytest.raises(FTIRUnmixerError, match="data.crop_size"):
        dm = build(compose_train([*TINY_RUN, "data.mode=full_image", "data.crop_size=[30,4]"]).data)
        dm.setup()
    with pytest.raises(FTIRUnmixerError, match="data.mode"):
        build(compose_train([*TINY_RUN, "data.mode=images"]).data)
    with pytest.raises(FTIRUnmixerError, match="needs the cube in memory"):
        build(compose_train([*TINY_RUN, "data.mode=full_image", "data.out_of_core=true"]).data)
