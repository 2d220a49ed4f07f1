import numpy as np
import pytest
import torch

from ftir_unmixer.data.patches import (
    CentreDataset,
    PatchGatherer,
    RandomCentreSampler,
    valid_patch_centres,
)


def test_valid_centres_by_hand():
    # 5×6 image, p = 3: centres (1..3, 1..4) except those whose 3×3 window holds (0, 4).
    mask = np.ones((5, 6), bool)
    mask[0, 4] = False
    centres = {tuple(c) for c in valid_patch_centres(mask, 3)}
    expected = {(r, c) for r in range(1, 4) for c in range(1, 5)} - {(1, 3), (1, 4)}
    assert centres == expected


def test_gatherer_returns_exact_cube_values():
    rng = np.random.default_rng(0)
    cube = torch.from_numpy(rng.random((9, 8, 6), dtype=np.float32))
    centres = torch.tensor([[2, 2], [6, 5], [4, 3]])
    patches = PatchGatherer(cube, 5)(centres)
    assert patches.shape == (3, 6, 5, 5)
    for (r, c), patch in zip(centres.tolist(), patches, strict=True):
        expected = cube[r - 2 : r + 3, c - 2 : c + 3].permute(2, 0, 1)
        assert torch.equal(patch, expected)


def test_sampler_reproducible_by_seed_and_epoch_and_rank():
    def draw(seed, epoch, rank=0, resample=True):
        s = RandomCentreSampler(100, 50, seed, rank=rank, resample_each_epoch=resample)
        s.set_epoch(epoch)
        return list(s)

    assert draw(1, 0) == draw(1, 0)
    assert draw(1, 0) != draw(2, 0)
    assert draw(1, 0) != draw(1, 1)
    assert draw(1, 0, rank=0) != draw(1, 0, rank=1)
    assert all(0 <= i < 100 for i in draw(3, 4))
    # Authors' mode: the same set every epoch, in a new order.
    e0, e1 = draw(1, 0, resample=False), draw(1, 1, resample=False)
    assert sorted(e0) == sorted(e1) and e0 != e1


def test_dataset_batches_are_centre_index_tensors():
    centres = np.array([[1, 1], [2, 3], [4, 2]])
    ds = CentreDataset(centres)
    batch = ds.__getitems__([2, 0])
    assert batch.dtype == torch.long
    assert batch.tolist() == [[4, 2], [1, 1]]


@pytest.mark.parametrize("patch_size", [1, 3])
def test_patch_of_size_one_and_three(patch_size):
    cube = torch.arange(4 * 4 * 2, dtype=torch.float32).reshape(4, 4, 2)
    patches = PatchGatherer(cube, patch_size)(torch.tensor([[1, 2]]))
    assert patches.shape == (1, 2, patch_size, patch_size)
    assert torch.equal(patches[0, :, patch_size // 2, patch_size // 2], cube[1, 2])
