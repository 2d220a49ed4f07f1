r"""Hand-written training kernels for p×p patches: no products with the zero padding.

A 5×5 patch is mostly border: of the 625 (pixel, tap) pairs of the decoder's 5×5 kernel only
19² = 361 land inside the patch, and of the 225 of the encoder's 3×3 kernel 13² = 169. oneDNN
skips the others in its forward convolutions; these kernels skip them everywhere else, with
the same results up to float rounding (tested against ``F.conv2d`` and
:func:`~ftir_unmixer.losses.spectral_angle_rad`).

**The decoder and the spectral angle, fused** (:func:`decoded_angles`). The loss needs only
two numbers per pixel from the reconstruction :math:`\hat{\mathbf x} = W\mathbf a` (Eq. 2;
:math:`\mathbf a` stacks the abundance vectors under the pixel's taps inside the patch,
``W`` the matching kernel columns):

.. math::

    \langle \mathbf w \odot \mathbf x, \mathbf w \odot \hat{\mathbf x} \rangle
        = \mathbf p^\top \mathbf a, \quad \mathbf p = W^\top (\mathbf w^2 \odot \mathbf x),
    \qquad
    \|\mathbf w \odot \hat{\mathbf x}\|^2 = \mathbf a^\top G \mathbf a, \quad
        G = W^\top \operatorname{diag}(\mathbf w^2) W.

These are the sums of Eq. 6 in another order. The reconstruction and its gradient (two
(N, B, p, p) arrays and a dozen passes over them in the loss) are never formed, each pixel's
``p`` is one matrix product with the kernel columns of its own taps, and the gradient with
respect to the abundances is a few small element-wise products instead of a transposed
convolution over B bands.

**The encoder's first convolution** (:func:`patch_conv2d`): the forward pass stays oneDNN's;
the weight gradient is one matrix product per input pixel with the taps that reach an output
inside the patch.

Whole images (``unmix_cube``, ``data.mode=full_image``), other padding modes and decoders, the
loss's nuisance projection and accelerators (``model.patch_kernels=null``) use the plain
convolutions (:func:`fuses`).
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ftir_unmixer.losses import SpectralAngleLoss
from ftir_unmixer.models.decoder import PositiveDecoder


def tap_ranges(size: int, kernel: int) -> list[tuple[int, int]]:
    """For each output index of a "same" zero-padded convolution, its taps inside the input.

    Output ``i`` of a convolution with ``kernel`` taps and padding ``kernel // 2`` reads input
    ``i + u - kernel // 2`` with tap ``u``; the taps ``[lo, hi)`` returned keep that index in
    ``[0, size)``. E.g. 5 outputs, 5 taps: ``[(2, 5), (1, 5), (0, 5), (0, 4), (0, 3)]``. The
    same entry ``s`` mirrored, ``[kernel − hi, kernel − lo)``, holds the taps through which
    input ``s`` reaches an output.
    """
    half = kernel // 2
    return [(max(0, half - i), min(kernel, size + half - i)) for i in range(size)]


@cache
def _pixels(height: int, width: int, kernel: int) -> tuple[tuple[int, int, slice, slice], ...]:
    """Each output pixel ``(i, j)`` with its taps inside the window: rows ``u``, columns ``v``."""
    return tuple(
        (i, j, slice(u0, u1), slice(v0, v1))
        for i, (u0, u1) in enumerate(tap_ranges(height, kernel))
        for j, (v0, v1) in enumerate(tap_ranges(width, kernel))
    )


@cache
def _inputs(height: int, width: int, kernel: int) -> tuple[tuple[int, int, slice, slice], ...]:
    """Each input pixel ``(r, c)`` with the taps that carry it to an output inside the window."""
    return tuple(
        (r, c, slice(kernel - u1, kernel - u0), slice(kernel - v1, kernel - v0))
        for r, (u0, u1) in enumerate(tap_ranges(height, kernel))
        for c, (v0, v1) in enumerate(tap_ranges(width, kernel))
    )


@cache
def _shifts(height: int, width: int, kernel: int) -> tuple[tuple[int, int, tuple, tuple], ...]:
    """Each tap ``(u, v)`` with the output pixels it reaches and the input pixels they read."""
    half = kernel // 2
    shifts = []
    for u in range(kernel):
        i0, i1 = max(0, half - u), min(height, height + half - u)
        for v in range(kernel):
            j0, j1 = max(0, half - v), min(width, width + half - v)
            out = slice(i0, i1), slice(j0, j1)
            read = slice(i0 + u - half, i1 + u - half), slice(j0 + v - half, j1 + v - half)
            shifts.append((u, v, out, read))
    return tuple(shifts)


class _Accumulator:
    """Per-pixel sums into a ``(…, p, p, …)`` gradient whose tap columns differ by pixel.

    A pixel's taps are a rectangle; for a matrix product to write them as one block of
    contiguous memory, the pixels whose taps do not span every column of the kernel add
    into a buffer of their own column range, merged at the end.

    Args:
        total: the gradient, taps on dimensions ``axis`` (rows) and ``axis + 1`` (columns).
        axis: the dimension of the tap rows.
    """

    def __init__(self, total: Tensor, axis: int) -> None:
        self.total = total
        self.axis = axis
        self.partial: dict[tuple[int, int], Tensor] = {}

    def rows(self, us: slice, vs: slice) -> Tensor:
        """The block of taps ``us`` × ``vs`` (all tap columns of the buffer ``vs``)."""
        kernel = self.total.shape[self.axis + 1]
        if (vs.start, vs.stop) == (0, kernel):
            buffer = self.total
        else:
            if (vs.start, vs.stop) not in self.partial:
                shape = list(self.total.shape)
                shape[self.axis + 1] = vs.stop - vs.start
                self.partial[vs.start, vs.stop] = self.total.new_zeros(shape)
            buffer = self.partial[vs.start, vs.stop]
        return buffer[(slice(None),) * self.axis + (us,)]

    def merged(self) -> Tensor:
        """The gradient with every column buffer added in."""
        for (v0, v1), buffer in self.partial.items():
            self.total[(slice(None),) * (self.axis + 1) + (slice(v0, v1),)] += buffer
        return self.total


class _DecodedAngle(torch.autograd.Function):
    """Per-pixel (weighted) spectral angle between patches and their decoded reconstruction.

    Inputs: ``x`` ``(N, h, w, B)`` patches, band-last and contiguous (the data, no gradient);
    ``abundances`` ``(N, K, h, w)``; ``unconstrained`` the decoder's ``U`` ``(B, K, p, p)``;
    ``weights`` ``(B,)`` or None; ``eps`` and ``clamp`` of Eq. 6. Output: ``(N, h, w)`` angles
    in radians.

    The kernel, laid out as rows ``(u, v, k)`` of B values, is split into its mean spectrum
    over taps and endmembers and the deviations from it; the mean multiplies the sum of a
    pixel's abundances over its taps, like one more endmember. The reconstruction is the
    same, but the gradient with respect to the abundances is then no small difference of two
    large products: near the authors' initialisation every tap holds almost the same
    spectrum, and that difference would lose about √B in precision.
    """

    @staticmethod
    def forward(ctx, x, abundances, unconstrained, weights, eps, clamp):
        n, h, w, bands = x.shape
        kernel = unconstrained.shape[-1]
        taps = kernel * kernel * unconstrained.shape[1]
        raw = unconstrained.permute(2, 3, 1, 0).contiguous()  # (u, v, k, B)
        spectra = F.softplus(raw).view(taps, bands)
        split = spectra.new_empty(taps + 1, bands)
        torch.mean(spectra, dim=0, out=split[taps])
        torch.sub(spectra, split[taps], out=split[:taps])
        squares = None if weights is None else weights * weights
        weighted = split if squares is None else split * squares
        columns = _tap_columns(abundances, kernel)
        quadratic = columns.view(-1, taps + 1) @ (weighted @ split.T)
        # The products with the data, for the taps inside the patch only.
        projected = columns.new_zeros(n, h, w, taps + 1)
        norm_x = x.new_empty(n, h, w)
        deviations = weighted[:taps].view(kernel, kernel, -1, bands)
        blocks = {
            (v0, v1): deviations if v1 - v0 == kernel else deviations[:, v0:v1].contiguous()
            for v0, v1 in set(tap_ranges(w, kernel))
        }
        for i, j, us, vs in _pixels(h, w, kernel):
            pixel = x[:, i, j]
            block = projected[:, i, j, :taps].view(n, kernel, kernel, -1)[:, us, vs]
            rows = blocks[vs.start, vs.stop][us].view(-1, bands)
            block.copy_(torch.mm(pixel, rows.T).view(block.shape))
            torch.mv(pixel, weighted[taps], out=projected[:, i, j, taps])
            scaled = pixel if weights is None else pixel * weights
            torch.linalg.vector_norm(scaled, dim=1, out=norm_x[:, i, j])
        dot = torch.linalg.vecdot(projected, columns)
        norm_hat = torch.linalg.vecdot(quadratic.view_as(columns), columns).sqrt()
        cosine = dot / (norm_x * norm_hat + eps)
        ctx.save_for_backward(
            x, columns, raw, split, squares, projected, quadratic, dot, norm_x, norm_hat, cosine
        )
        ctx.eps, ctx.clamp = eps, clamp
        return torch.arccos(cosine.clamp(-1.0 + clamp, 1.0 - clamp))

    @staticmethod
    def backward(ctx, grad_angle):
        x, columns, raw, split, squares, projected, quadratic, dot, norm_x, norm_hat, cosine = (
            ctx.saved_tensors
        )
        n, h, w, bands = x.shape
        kernel = raw.shape[0]
        taps = split.shape[0] - 1
        low, high = -1.0 + ctx.clamp, 1.0 - ctx.clamp
        inside = (cosine >= low) & (cosine <= high)
        clamped = cosine.clamp(low, high)
        grad_cos = torch.where(inside, -grad_angle / torch.sqrt(1.0 - clamped * clamped), 0.0)
        denominator = norm_x * norm_hat + ctx.eps
        grad_dot = grad_cos / denominator
        # ‖w⊙x̂‖² = aᵀGa: ∂/∂‖w⊙x̂‖² = ∂/∂‖w⊙x̂‖ / (2‖w⊙x̂‖).
        grad_norm = -grad_cos * dot * norm_x / (denominator * denominator)
        grad_square = torch.where(norm_hat > 0, grad_norm / (2 * norm_hat), 0.0)
        grad_split = grad_dot[..., None] * projected
        grad_split.addcmul_((2 * grad_square)[..., None], quadratic.view_as(columns))
        grad_taps = (grad_split[..., :taps] + grad_split[..., taps:]).view(
            n, h, w, kernel, kernel, -1
        )
        grad_abundances = x.new_zeros(n, h, w, grad_taps.shape[-1])
        for u, v, out, read in _shifts(h, w, kernel):
            grad_abundances[:, read[0], read[1]] += grad_taps[:, out[0], out[1], u, v]
        # The kernel's gradient in the kernel's own basis (the split would cost precision):
        # ∂(aᵀGa)/∂W = 2 (Σ β a aᵀ) W D and ∂(pᵀa)/∂W = Σ (α a) xᵀ D, D = diag(w²), over the
        # taps inside the patch only.
        flat = columns.view(-1, taps + 1)[:, :taps]
        outer = flat.T @ (grad_square.view(-1, 1) * flat)
        total = (2 * outer) @ (split[:taps] + split[taps])
        grad_kernel = _Accumulator(total.view(kernel, kernel, -1, bands), axis=0)
        by_dot = (grad_dot[..., None] * columns[..., :taps]).view(n, h, w, kernel, kernel, -1)
        for i, j, us, vs in _pixels(h, w, kernel):
            block = grad_kernel.rows(us, vs).view(-1, bands)
            block.addmm_(by_dot[:, i, j, us, vs].reshape(n, -1).T, x[:, i, j])
        gradient = grad_kernel.merged()
        if squares is not None:
            gradient *= squares
        grad_raw = torch.ops.aten.softplus_backward(gradient, raw, 1.0, 20.0)
        return (
            None,
            grad_abundances.permute(0, 3, 1, 2),
            grad_raw.permute(3, 2, 0, 1),
            None,
            None,
            None,
        )


def _tap_columns(abundances: Tensor, kernel: int) -> Tensor:
    """The abundances under every tap of every pixel, and their sum: ``(N, h, w, p·p·K + 1)``.

    Entry ``(n, i, j, (u, v, k))`` is ``A[n, k, i + u − p//2, j + v − p//2]``, zero where that
    falls in the padding, so the decoder's output at a pixel is its row times the kernel laid
    out as ``(p·p·K, B)``; the last entry sums the row.
    """
    n, k, h, w = abundances.shape
    taps = kernel * kernel * k
    band_last = abundances.permute(0, 2, 3, 1)
    columns = abundances.new_zeros(n, h, w, taps + 1)
    grid = columns[..., :taps].view(n, h, w, kernel, kernel, k)
    for u, v, out, read in _shifts(h, w, kernel):
        grid[:, out[0], out[1], u, v] = band_last[:, read[0], read[1]]
    torch.sum(columns[..., :taps], dim=-1, out=columns[..., taps])
    return columns


class _PatchConv(torch.autograd.Function):
    """A zero-padded "same" convolution whose weight gradient skips the padding.

    Inputs: ``x`` ``(N, C, h, w)`` (no gradient), ``weight`` ``(H, C, q, q)``, ``bias``
    ``(H,)`` or None. The forward pass is ``F.conv2d``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x)
        ctx.kernel, ctx.bias = weight.shape[-1], bias is not None
        return F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        n, channels, h, w = x.shape
        kernel = ctx.kernel
        band_last = x.permute(0, 2, 3, 1).contiguous()
        grad = grad_out.permute(0, 2, 3, 1)
        # For input pixel s and tap t, the gradient of the output s − t + q//2 (0 outside).
        shifted = grad.new_zeros(n, h, w, kernel, kernel, grad.shape[-1])
        for u, v, out, read in _shifts(h, w, kernel):
            shifted[:, read[0], read[1], u, v] = grad[:, out[0], out[1]]
        total = grad.new_zeros(kernel, kernel, grad.shape[-1], channels)
        grad_weight = _Accumulator(total, axis=0)
        for r, c, us, vs in _inputs(h, w, kernel):
            block = grad_weight.rows(us, vs).view(-1, channels)
            block.addmm_(shifted[:, r, c, us, vs].reshape(n, -1).T, band_last[:, r, c])
        grad_bias = grad.sum(dim=(0, 1, 2)) if ctx.bias else None
        return None, grad_weight.merged().permute(2, 3, 0, 1), grad_bias


def patch_conv2d(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(x)`` for p×p patches, with the weight gradient of :class:`_PatchConv`.

    Falls back to ``conv(x)`` for what it does not cover: other padding modes, strides,
    dilations or groups, an input that needs its own gradient, low precision.
    """
    kernel = conv.kernel_size[0]
    plain = (
        conv.padding_mode != "zeros"
        or conv.kernel_size != (kernel, kernel)
        or tuple(conv.padding) != (kernel // 2, kernel // 2)
        or tuple(conv.stride) != (1, 1)
        or tuple(conv.dilation) != (1, 1)
        or conv.groups != 1
        or x.requires_grad
        or x.dtype != torch.float32
        or torch.is_autocast_enabled(x.device.type)
    )
    return conv(x) if plain else _PatchConv.apply(x, conv.weight, conv.bias)


def fuses(decoder: nn.Module, loss: SpectralAngleLoss, patches: Tensor) -> bool:
    """Whether :func:`decoded_angles` applies to this decoder, loss and batch.

    It covers the paper's decoder (:class:`PositiveDecoder`) with zero padding on p×p float32
    patches that need no gradient of their own, and Eq. 6 as it stands. Whole images and
    crops (``data.mode=full_image``), the other padding modes and decoders, the nuisance
    projection of the loss (``model.baseline_degree``, ``model.atmosphere_components``) and
    autocast go through the decoder's convolution and :class:`SpectralAngleLoss`.
    """
    if not isinstance(decoder, PositiveDecoder) or loss.nuisance is not None:
        return False
    kernel = decoder.unconstrained.shape[-1]
    return (
        decoder.padding_mode == "zeros"
        and tuple(patches.shape[-2:]) == (kernel, kernel)
        and not patches.requires_grad
        and patches.dtype == decoder.unconstrained.dtype == torch.float32
        and not torch.is_autocast_enabled(patches.device.type)
    )


def decoded_angles(
    decoder: PositiveDecoder, patches: Tensor, abundances: Tensor, loss: SpectralAngleLoss
) -> Tensor:
    """Eq. 6 between ``(N, B, p, p)`` patches and the decoder's reconstruction of them.

    Equals ``spectral_angle_rad(patches, decoder(abundances), loss.weights)`` (same ``eps`` and
    clamp) with the same gradients, computed as the module docstring says.

    Returns:
        ``(N, p, p)`` angles in radians.
    """
    band_last = patches.permute(0, 2, 3, 1).contiguous()
    return _DecodedAngle.apply(
        band_last, abundances, decoder.unconstrained, loss.weights, loss.eps, loss.clamp
    )
