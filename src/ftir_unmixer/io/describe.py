"""A cube described in a few lines of text (``ftir-unmixer info``, ``convert``'s summary)."""

from __future__ import annotations

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_checks import constant_bands
from ftir_unmixer.io.input_file import GroundTruth, HyperspectralData


def describe_axis(wavenumbers: np.ndarray) -> str:
    """Summarise a wavenumber axis: range, order and mean step.

    Args:
        wavenumbers: ``(B,)`` axis in cm⁻¹.

    Returns:
        e.g. ``3849.20 → 950.73 cm⁻¹ (descending, mean step -1.9285 cm⁻¹)``.

    """
    if wavenumbers.size == 1:
        return f"{wavenumbers[0]:.2f} cm⁻¹ (one band)"
    steps = np.diff(wavenumbers)
    order = "ascending" if np.all(steps > 0) else "descending" if np.all(steps < 0) else "unordered"
    return (
        f"{wavenumbers[0]:.2f} → {wavenumbers[-1]:.2f} cm⁻¹ ({order}, mean step "
        f"{steps.mean():+.4f} cm⁻¹)"
    )


def purity_summary(ground_truth: GroundTruth) -> str:
    """Each material's purity as text, e.g. ``chalk 0.99, animal glue 0.45``."""
    return ", ".join(
        f"{name} {value:.2f}"
        for name, value in zip(ground_truth.names, ground_truth.purity, strict=True)
    )


def describe(data: HyperspectralData) -> list[str]:
    """Describe a cube in a few lines of text.

    Args:
        data: the cube as read by :func:`ftir_unmixer.io.readers.read_any`.

    Returns:
        One line per property.

    """
    height, width, bands = data.shape
    total = height * width
    finite = np.isfinite(data.cube)
    finite_pixels = finite.all(axis=2)
    constant = constant_bands(data.cube, data.mask & finite_pixels)
    tiles = ", ".join(
        f"{n} ({r} rows)" for n, r in zip(data.tile_names, data.tile_rows, strict=True)
    )
    valid = int((data.mask & finite_pixels).sum())
    if not valid:
        raise FTIRUnmixerError(
            f"{data.path}: none of its {total} pixels has a finite value in every band (NaN or "
            "Inf everywhere, or all masked), so it cannot be unmixed; check the export."
        )
    lines = [
        f"file: {data.path}",
        f"geometry: H={height} W={width} B={bands}; {len(data.tile_names)} tile(s): {tiles}",
        f"axis: {describe_axis(data.wavenumbers)}",
        f"non-finite: {int(np.isnan(data.cube).sum())} NaN and "
        f"{int(np.isinf(data.cube).sum())} Inf values in {total - int(finite_pixels.sum())} "
        "pixel(s)",
        f"constant bands: {constant.size}"
        + (f" (first at {data.wavenumbers[constant[0]]:.2f} cm⁻¹)" if constant.size else ""),
        f"valid pixels: {valid} of {total} ({100 * valid / total:.1f}%), in the mask and finite",
    ]
    gt = data.ground_truth
    if gt is None:
        lines.append("ground truth: none")
    else:
        lines.append(f"ground truth: K={gt.endmembers.shape[1]} ({', '.join(gt.names)})")
        lines.append(f"purity (largest abundance): {purity_summary(gt)}")
    lines.append("attributes:")
    for key, value in data.attrs.items():
        text = " ".join(str(value).split())
        lines.append(f"  {key}: {text[:117] + '...' if len(text) > 120 else text}")
    return lines
