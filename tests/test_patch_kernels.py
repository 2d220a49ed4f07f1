"""The patch kernels equal the plain convolutions and loss, forward and backward.

References are computed in float64 with ``F.conv2d`` and ``spectral_angle_rad`` on random,
spatially varying abundances and patches (a flipped, shifted or mis-cropped kernel tap would
show), at the 5×5 patch size of the paper and at others.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ftir_unmixer.losses import SpectralAngleLoss, spectral_angle_rad
from ftir_unmixer.models.decoder import PositiveDecoder
from ftir_unmixer.models.module import FTIRUnmixerModule
from ftir_unmixer.models.patch_kernels import decoded_angles, fuses, patch_conv2d, tap_ranges

B, K = 37, 4


def test_tap_ranges_by_hand():
    # 5×5 kernel, padding 2, on 5 pixels: output 0 reads inputs 0..2 through taps 2..4.
    assert tap_ranges(5, 5) == [(2, 5), (1, 5), (0, 5), (0, 4), (0, 3)]
    assert tap_ranges(5, 3) == [(1, 3), (0, 3), (0, 3), (0, 3), (0, 2)]
    # 19 of the 25 (output, tap) pairs per axis land inside: 361 of 625 for a 5×5 patch.
    assert sum(hi - lo for lo, hi in tap_ranges(5, 5)) == 19


def _reference_angles(x, logits, unconstrained, weights):
    """Float64 angles of the plain path: softmax → F.conv2d (zero padding) → Eq. 6."""
    abundances = torch.softmax(3.5 * logits, dim=1)
    kernel = unconstrained.shape[-1]
    reconstruction = F.conv2d(abundances, F.softplus(unconstrained), padding=kernel // 2)
    return spectral_angle_rad(x.movedim(1, -1), reconstruction.movedim(1, -1), weights, dim=-1)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("patch", [5, 3, 7])
def test_decoded_angles_equal_the_convolution_and_loss(weighted, patch):
    torch.manual_seed(patch)
    decoder = PositiveDecoder(K, B, patch)
    with torch.no_grad():  # a kernel that differs between taps, so misplaced taps show
        decoder.unconstrained.normal_(0.0, 1.0)
    weights = torch.rand(B) if weighted else None
    x = torch.rand(6, B, patch, patch) + 0.05
    logits = torch.randn(6, K, patch, patch, requires_grad=True)
    angles = decoded_angles(decoder, x, torch.softmax(3.5 * logits, 1), SpectralAngleLoss(weights))
    upstream = torch.rand_like(angles)
    grads = torch.autograd.grad(angles, (logits, decoder.unconstrained), upstream)

    logits64 = logits.detach().double().requires_grad_()
    u64 = decoder.unconstrained.detach().double().requires_grad_()
    w64 = None if weights is None else weights.double()
    expected = _reference_angles(x.double(), logits64, u64, w64)
    expected_grads = torch.autograd.grad(expected, (logits64, u64), upstream.double())
    assert angles.shape == (6, patch, patch)
    torch.testing.assert_close(angles.double(), expected, rtol=0, atol=2e-6)
    for grad, reference in zip(grads, expected_grads, strict=True):
        scale = reference.abs().max()
        torch.testing.assert_close(grad.double() / scale, reference / scale, rtol=0, atol=2e-5)


def test_decoded_angles_keep_precision_near_the_authors_initialisation():
    # Xavier-uniform U: every tap holds almost the same spectrum, the case in which a plain
    # Gram-matrix form would lose ~√B in the abundances' gradient (here B = 1504).
    torch.manual_seed(0)
    bands = 1504
    decoder = PositiveDecoder(10, bands, 5)
    x = torch.rand(8, bands, 5, 5)
    logits = torch.randn(8, 10, 5, 5, requires_grad=True)
    loss = SpectralAngleLoss(torch.rand(bands))
    angles = decoded_angles(decoder, x, torch.softmax(3.5 * logits, 1), loss)
    (grad,) = torch.autograd.grad(angles.mean(), logits)
    logits64 = logits.detach().double().requires_grad_()
    expected = _reference_angles(
        x.double(), logits64, decoder.unconstrained.detach().double(), loss.weights.double()
    )
    (reference,) = torch.autograd.grad(expected.mean(), logits64)
    assert ((grad.double() - reference).norm() / reference.norm()) < 1e-4


@pytest.mark.parametrize(("kernel", "size"), [(3, (5, 5)), (3, (4, 6)), (5, (7, 5)), (1, (5, 5))])
def test_patch_conv_equals_conv2d(kernel, size):
    torch.manual_seed(kernel)
    conv = nn.Conv2d(B, 6, kernel, padding=kernel // 2).double()
    conv32 = nn.Conv2d(B, 6, kernel, padding=kernel // 2)
    conv32.load_state_dict({name: value.float() for name, value in conv.state_dict().items()})
    x = torch.rand(4, B, *size, dtype=torch.float64)
    upstream = torch.randn(4, 6, *size, dtype=torch.float64)
    out = patch_conv2d(conv32, x.float())
    grads = torch.autograd.grad(out, (conv32.weight, conv32.bias), upstream.float())
    expected = conv(x)
    expected_grads = torch.autograd.grad(expected, (conv.weight, conv.bias), upstream)
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)
    for grad, reference in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad.double(), reference, rtol=1e-5, atol=1e-4)


def test_what_the_kernels_leave_to_the_plain_path():
    decoder, loss = PositiveDecoder(K, B, 5), SpectralAngleLoss(torch.rand(B))
    patches = torch.rand(2, B, 5, 5)
    assert fuses(decoder, loss, patches)
    assert not fuses(decoder, loss, torch.rand(2, B, 9, 7))  # whole images, crops
    assert not fuses(decoder, loss, patches.double())
    assert not fuses(decoder, loss, patches.clone().requires_grad_())
    assert not fuses(PositiveDecoder(K, B, 5, padding_mode="reflect"), loss, patches)
    # The loss with a nuisance subspace projected out, and the archetypal decoder.
    assert not fuses(decoder, SpectralAngleLoss(torch.rand(B), nuisance_shape=(B, 2)), patches)
    archetypal = FTIRUnmixerModule(
        num_bands=B, num_endmembers=K, hidden_channels=8, decoder="archetypal"
    ).net.decoder
    assert not fuses(archetypal, loss, patches)
    # The convolution: other paddings and inputs that need a gradient take conv(x) itself.
    reflect = nn.Conv2d(B, 3, 3, padding=1, padding_mode="reflect")
    x = torch.rand(2, B, 5, 5, requires_grad=True)
    for conv, inputs in ((reflect, patches), (nn.Conv2d(B, 3, 3, padding=1), x)):
        out = patch_conv2d(conv, inputs)
        assert out.grad_fn.name() == "ConvolutionBackward0"
        torch.testing.assert_close(out, conv(inputs))


def _twins(**kwargs):
    torch.manual_seed(0)
    options = dict(num_bands=B, num_endmembers=K, hidden_channels=8, band_weights=torch.rand(B))
    plain = FTIRUnmixerModule(**options, patch_kernels=False, **kwargs)
    fast = FTIRUnmixerModule(**options, patch_kernels=True, **kwargs)
    fast.load_state_dict(plain.state_dict())
    return plain, fast


@pytest.mark.parametrize("channels_last", [True, False])
def test_a_training_step_with_patch_kernels_equals_the_plain_one(channels_last):
    plain, fast = _twins(channels_last=channels_last)
    x = torch.rand(6, B, 5, 5, generator=torch.Generator().manual_seed(3)) + 0.1
    losses = []
    for module in (plain, fast):
        torch.manual_seed(1)  # the same dropout masks
        losses.append(module.training_loss(x))
        losses[-1].backward()
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-6, atol=1e-7)
    for (name, p), q in zip(plain.named_parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)
    # Whole-cube inference runs the decoder as a convolution on the whole image.
    cube = torch.rand(9, 7, B)
    expected, got = plain.unmix_cube(cube), fast.unmix_cube(cube)
    for name in ("abundances", "endmembers_model", "reconstruction_angle"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
    assert got.scale == expected.scale


def _graph_names(loss: torch.Tensor) -> list[str]:
    """The names of every node of ``loss``'s backward graph."""
    seen = {}  # id → node: holding the nodes keeps their ids unique
    stack = [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and id(node) not in seen:
            seen[id(node)] = node
            stack += [next_node for next_node, _ in node.next_functions]
    return [node.name() for node in seen.values()]


def test_patch_kernels_default_to_the_cpu_without_compilation():
    module = FTIRUnmixerModule(num_bands=B, num_endmembers=K, hidden_channels=8)
    assert module.hparams.patch_kernels is None
    x = torch.rand(2, B, 5, 5)
    names = _graph_names(module.batch_loss(x))
    # The decoder and loss fused, the first convolution's own backward, and one plain
    # convolution left: the 1×1 one, which has no padding to skip.
    assert names.count("_DecodedAngleBackward") == names.count("_PatchConvBackward") == 1
    assert names.count("ConvolutionBackward0") == 1
    # With model.compile the plain convolutions (compiled, the kernels were slower).
    compiled = FTIRUnmixerModule(num_bands=B, num_endmembers=K, hidden_channels=8, compile=True)
    names = _graph_names(compiled.batch_loss(x))
    assert "_DecodedAngleBackward" not in names and names.count("ConvolutionBackward0") == 3
