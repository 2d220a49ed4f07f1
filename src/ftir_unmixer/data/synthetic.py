r"""Synthetic ATR-µFTIR image of a paint cross-section, with ground truth.

The scene imitates a focal-plane-array ATR-µFTIR image of a paint cross-section
(docs/method.md, "The synthetic cross-section"): ``num_tiles`` focal-plane
tiles of ``tile_rows × tile_cols`` pixels stacked along the depth (row) axis into an
``H × W × B`` cube (``H = num_tiles · tile_rows``), on the FPA wavenumber grid
``ν̃_b = nu_max − b·step`` (4 cm⁻¹ resolution, zero filling 2; stored descending by default).

**Stratigraphy**, top to bottom: embedding resin, a calcium-oxalate crust, the paint
layers of ``paint_layers`` (:data:`PAINT_RECIPES`), a chalk–glue ground and embedding resin
again. Layer thicknesses are fractions of ``H`` (the ground takes what is left), so the scene
keeps its proportions at any size; the interfaces wave along the columns. Each layer is a
matrix composition with dispersed grains of pure pigment (a thresholded smooth random field
covering ``particle_coverage`` of the area). Near the paint surface the oil turns into
degraded oil and calcium oxalate reaches down, both decaying as
:math:`e^{-d/L}` with the depth ``d`` below the paint surface (:math:`L` =
``degradation_depth · H``). Rounded lead-soap aggregates sit on the paint-layer interfaces,
resin-filled cracks run down from the surface, and an optional minor component is mixed into
one paint layer. The abundance maps are blurred by the optical point-spread function (a
Gaussian of ``blur_fwhm_px``), which keeps them non-negative and summing to one.

**Purity** (how mixed the scene is): grains hold ``grain_purity`` pigment and the layer's matrix
for the rest, soap aggregates ``soap_purity`` lead soap, the crust ``crust_oxalate`` oxalate;
``composition_jitter`` varies each layer's matrix fractions smoothly across the image (so the
pixels spread over the facet of the layer's materials instead of sitting on one point), and
``max_abundance`` caps every material but the embedding resin, the excess going to the
pixel's other materials. The defaults (1, 1, 0.8, 0, 1) give the bundled scene; the
``highly_mixed`` preset has no material above 0.7 except the resin. A material's purity is its
largest abundance (:attr:`~ftir_unmixer.io.input_file.GroundTruth.purity`).

**Mixing**: Beer–Lambert absorbances add, so the clean cube is linear,
:math:`\mathbf X_0 = \mathbf A\mathbf E^\top` with the abundances :math:`\mathbf A`
(``H·W × K``) and the material spectra :math:`\mathbf E` (``B × K``,
:mod:`ftir_unmixer.data.materials`). With ``chromatic_blur`` the PSF width scales as
:math:`1700/\tilde\nu` (diffraction), so each band sees differently blurred maps (the
ground-truth maps are those at 1700 cm⁻¹) and :math:`\mathbf X_0` is no longer exactly linear
near interfaces.

**Artefacts**, applied in this order to every pixel :math:`p` and band :math:`b`:

.. math::

    x_{pb} = g_p\,x^0_{pb} + o_p + s_p\,t_b + c^{\mathrm{CO_2}}_{\tau(p)}\,g^{\mathrm{CO_2}}_b
        + c^{\mathrm{H_2O}}_{\tau(p)}\,g^{\mathrm{H_2O}}_b + r_{pb} + \sigma_b\,n_{pb}
        + \text{spikes} + \text{bad channels},

* :math:`g_p \in [1 - \texttt{gain\_range}, 1]`: contact quality, a smooth field per tile;
* :math:`o_p, s_p`: baseline offset and slope, smooth fields per tile bounded by
  ``baseline_offset`` and ``baseline_slope`` AU; :math:`t_b \in [-1, 1]` runs linearly across
  the spectral window;
* :math:`c_\tau`: the atmospheric residual of tile :math:`\tau`, one random size and sign per
  tile and gas (at most ``atmosphere_co2``/``atmosphere_h2o`` AU), the same for every pixel
  of the tile; the residual added is returned as :attr:`SyntheticScene.atmosphere`;
* :math:`r_{pb}`: interferogram-glitch ripples, a sinusoid of period 5–50 cm⁻¹ in a fraction
  ``ripple_fraction`` of the pixels;
* :math:`\sigma_b n_{pb}`: Gaussian noise, slightly correlated between neighbouring bands
  (apodisation), of RMS ``noise_mau`` mAU at 2000 cm⁻¹ rising as a U to
  ``noise_edge_factor`` times that at 950 and 3850 cm⁻¹;
* spikes: one band of a fraction ``spike_fraction`` of the pixels jumps by ±0.05–0.5 AU;
* ``bad_channels`` bands are hot (extra 0.05 AU noise in every pixel), every third one stuck
  instead (one constant in every pixel);
* dead detector elements (``dead_pixel_fraction`` of a tile, at the same within-tile
  positions in every tile) hold noise only and are False in the mask.

**Ground truth**: the endmembers are the pure material spectra (the units of the cube, no
artefacts), named after the materials present; the abundances are the blurred maps of the
un-scaled mixture, summing to one. Hence ``A·Eᵀ`` reproduces the cube exactly when every
artefact is off (``gain_range = 0`` included) and ``chromatic_blur`` is false; otherwise the
cube differs from it by the artefacts above, the contact gain :math:`g_p` being the only
multiplicative one.

Every random draw comes from a stream of ``numpy.random.SeedSequence(seed)`` reserved for one
part of the scene, so the same configuration gives bit-identical arrays (with the same NumPy
and SciPy), and switching one artefact off leaves the draws of every other part unchanged.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from ftir_unmixer.data.atmosphere import co2_template, water_template
from ftir_unmixer.data.materials import MATERIALS, MIN_WAVENUMBER, material_library
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.atomic import atomic_path
from ftir_unmixer.io.input_file import GroundTruth, PathLike, write_input

SOURCE = "ftir-unmixer synthetic cross-section"
"""The ``source`` attribute of a written scene."""

BLUR_REFERENCE_WAVENUMBER = 1700.0
"""Wavenumber (cm⁻¹) at which the PSF has ``blur_fwhm_px``."""

NOISE_REFERENCE_WAVENUMBER = 2000.0
"""Wavenumber (cm⁻¹) at which the noise RMS is ``noise_mau``."""

NOISE_EDGES = (950.0, 3850.0)
"""Wavenumbers (cm⁻¹) at which the noise RMS is ``noise_edge_factor × noise_mau``."""

DEGRADED_OIL_MAX = 0.8
"""Fraction of the oil turned into degraded oil right at the paint surface."""

OXALATE_FRONT_MAX = 0.3
"""Calcium-oxalate abundance right below the crust, decaying with depth."""

CRACK_WIDTH_PX = 2.0
"""Width (pixels) of a resin-filled crack at the surface; it narrows to nothing at its tip."""

RIPPLE_AMPLITUDE_AU = (0.002, 0.01)
RIPPLE_PERIOD = (5.0, 50.0)
SPIKE_AMPLITUDE_AU = (0.05, 0.5)
HOT_CHANNEL_AU = 0.05
STUCK_CHANNEL_MAX_AU = 0.3

_NOISE_KERNEL = np.array([1.0, 2.0, 1.0]) / math.sqrt(6.0)
"""Band-correlation kernel of the noise; unit sum of squares, so the RMS is kept."""

_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_CHROMATIC_LEVELS = 8
_CAP_ROUNDS = 50
_STREAMS = (
    "interfaces",
    "grains",
    "soaps",
    "cracks",
    "gain",
    "baseline",
    "atmosphere",
    "ripples",
    "noise",
    "spikes",
    "bad_channels",
    "dead_pixels",
    "composition",
)


@dataclass(frozen=True)
class LayerRecipe:
    """Composition of one layer.

    Attributes:
        matrix: abundances (summing to one) between the grains.
        grain: material of the pure grains dispersed in the layer, if any.

    """

    matrix: dict[str, float]
    grain: str | None = None


RESIN = LayerRecipe({"polyester_resin": 1.0})
CRUST = LayerRecipe({"calcium_oxalate": 0.8, "degraded_oil": 0.2})
GROUND = LayerRecipe({"chalk": 0.55, "animal_glue": 0.45}, grain="chalk")
PAINT_RECIPES: dict[str, LayerRecipe] = {
    "earth": LayerRecipe({"kaolinite": 0.35, "linseed_oil": 0.65}, grain="kaolinite"),
    "lead_white": LayerRecipe(
        {"lead_white": 0.55, "linseed_oil": 0.40, "lead_soap": 0.05}, grain="lead_white"
    ),
    "imprimatura": LayerRecipe(
        {"lead_white": 0.40, "linseed_oil": 0.48, "lead_soap": 0.12}, grain="lead_white"
    ),
    "azurite": LayerRecipe(
        {"azurite": 0.45, "lead_white": 0.15, "linseed_oil": 0.40}, grain="azurite"
    ),
}
"""Paint layers that ``SyntheticConfig.paint_layers`` can name."""


@dataclass
class SyntheticConfig:
    """Settings of the synthetic cross-section (flat, for Hydra's ``_target_``).

    Thicknesses, waviness, soap radius and degradation depth are fractions of the cube depth
    ``H = num_tiles · tile_rows``; grain radius and blur are in pixels (optical scales).
    Every artefact size is a float (or count) where 0 switches it off.

    Attributes:
        seed: seed of every random draw.
        num_tiles: detector tiles stacked along the depth.
        tile_rows: rows of a tile.
        tile_cols: columns of a tile (the image width).
        num_bands: bands B.
        nu_max: first wavenumber (cm⁻¹) of the descending axis.
        step: band spacing (cm⁻¹).
        descending: store the axis descending (OPUS) or ascending.
        resin_top_thickness: embedding resin above the sample.
        crust_thickness: calcium-oxalate surface crust.
        paint_layers: paint layers from the surface down, keys of :data:`PAINT_RECIPES`.
        paint_thickness: thickness of each paint layer.
        resin_bottom_thickness: embedding resin below the sample; the ground fills the rest.
        interface_waviness: largest displacement of an interface along the columns.
        particle_coverage: area fraction of a layer covered by pure pigment grains.
        particle_radius_px: typical grain radius.
        soap_aggregates: number of lead-soap aggregates on the paint-layer interfaces.
        soap_radius: typical aggregate radius.
        degradation_depth: decay length of the degraded-oil and oxalate fronts (0: none).
        cracks: resin-filled cracks running down from the surface.
        minor_material: material mixed into one paint layer ("" for none).
        minor_layer: the paint layer (a name in ``paint_layers``) holding it.
        minor_abundance: its abundance inside that layer.
        blur_fwhm_px: FWHM of the optical PSF at 1700 cm⁻¹ (3.5 µm at 1.1 µm/pixel).
        chromatic_blur: scale the PSF width as 1700/ν̃ band by band.
        atmosphere_co2: largest |CO2 residual| of a tile (AU at the template maximum).
        atmosphere_h2o: largest |water-vapour residual| of a tile (AU).
        noise_mau: noise RMS at 2000 cm⁻¹ (mAU).
        noise_edge_factor: noise growth at 950 and 3850 cm⁻¹ (≥ 1).
        spike_fraction: fraction of pixels with a single-band spike.
        ripple_fraction: fraction of pixels with an interferogram-glitch ripple.
        bad_channels: number of bad bands: hot, every third one stuck.
        dead_pixel_fraction: fraction of dead detector elements (masked, in every tile).
        baseline_offset: largest |additive offset| (AU).
        baseline_slope: largest |baseline change| from the window centre to its edges (AU).
        gain_range: largest loss of signal from poor contact (gain in [1 − range, 1]).
        grain_purity: pigment fraction of a grain (the layer's matrix makes the rest).
        soap_purity: lead-soap fraction of a soap aggregate.
        crust_oxalate: calcium-oxalate fraction of the crust (degraded oil the rest).
        composition_jitter: amplitude of the smooth spatial variation of each layer's matrix
            fractions (0: uniform layers).
        max_abundance: largest abundance of any material but the embedding resin (1: no cap).

    """

    seed: int = 0
    num_tiles: int = 5
    tile_rows: int = 64
    tile_cols: int = 64
    num_bands: int = 1504
    nu_max: float = 3849.22
    step: float = 1.928467
    descending: bool = True
    resin_top_thickness: float = 0.08
    crust_thickness: float = 0.04
    paint_layers: list[str] = field(default_factory=lambda: ["earth", "lead_white", "imprimatura"])
    paint_thickness: list[float] = field(default_factory=lambda: [0.12, 0.16, 0.06])
    resin_bottom_thickness: float = 0.08
    interface_waviness: float = 0.01
    particle_coverage: float = 0.25
    particle_radius_px: float = 1.5
    soap_aggregates: int = 3
    soap_radius: float = 0.03
    degradation_depth: float = 0.03
    cracks: int = 1
    minor_material: str = ""
    minor_layer: str = "lead_white"
    minor_abundance: float = 0.08
    blur_fwhm_px: float = 3.2
    chromatic_blur: bool = False
    atmosphere_co2: float = 0.05
    atmosphere_h2o: float = 0.02
    noise_mau: float = 2.0
    noise_edge_factor: float = 5.0
    spike_fraction: float = 0.001
    ripple_fraction: float = 0.005
    bad_channels: int = 2
    dead_pixel_fraction: float = 0.002
    baseline_offset: float = 0.01
    baseline_slope: float = 0.01
    gain_range: float = 0.3
    grain_purity: float = 1.0
    soap_purity: float = 1.0
    crust_oxalate: float = 0.8
    composition_jitter: float = 0.0
    max_abundance: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            default = f.default if f.default is not MISSING else f.default_factory()
            setattr(self, f.name, _coerce(f.name, getattr(self, f.name), default))
        self._validate()

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the stacked cube: ``num_tiles · tile_rows`` by ``tile_cols``."""
        return self.num_tiles * self.tile_rows, self.tile_cols

    @property
    def ground_thickness(self) -> float:
        """Fraction of the depth taken by the chalk–glue ground."""
        return 1.0 - (
            self.resin_top_thickness
            + self.crust_thickness
            + sum(self.paint_thickness)
            + self.resin_bottom_thickness
        )

    def _validate(self) -> None:
        lowest = self.nu_max - self.step * (self.num_bands - 1)
        nonnegative = (
            "resin_top_thickness crust_thickness resin_bottom_thickness interface_waviness "
            "soap_aggregates degradation_depth cracks blur_fwhm_px atmosphere_co2 "
            "atmosphere_h2o noise_mau bad_channels baseline_offset baseline_slope"
        ).split()
        rules: list[tuple[str, bool, str]] = [
            ("seed", self.seed >= 0, "a non-negative integer"),
            ("num_tiles", self.num_tiles >= 1, "at least 1"),
            ("tile_rows", self.tile_rows >= 2, "at least 2"),
            ("tile_cols", self.tile_cols >= 1, "at least 1"),
            ("num_bands", self.num_bands >= 2, "at least 2"),
            ("step", self.step > 0, "positive"),
            (
                "nu_max",
                lowest >= MIN_WAVENUMBER,
                f"large enough that nu_max − step·(num_bands − 1) ≥ {MIN_WAVENUMBER:.0f} cm⁻¹ "
                "(the materials have no bands below)",
            ),
            *((name, getattr(self, name) >= 0, "non-negative") for name in nonnegative),
            ("particle_coverage", 0 <= self.particle_coverage < 1, "in [0, 1)"),
            ("particle_radius_px", self.particle_radius_px > 0, "positive"),
            ("soap_radius", self.soap_radius > 0, "positive"),
            ("gain_range", 0 <= self.gain_range < 1, "in [0, 1)"),
            *(
                (name, 0 <= getattr(self, name) <= 1, "in [0, 1]")
                for name in ("grain_purity", "soap_purity", "crust_oxalate")
            ),
            ("composition_jitter", self.composition_jitter >= 0, "non-negative"),
            ("max_abundance", 0 < self.max_abundance <= 1, "in (0, 1]"),
            ("minor_abundance", 0 <= self.minor_abundance < 1, "in [0, 1)"),
            ("noise_edge_factor", self.noise_edge_factor >= 1, "at least 1"),
            *(
                (name, 0 <= getattr(self, name) <= 1, "in [0, 1]")
                for name in ("spike_fraction", "ripple_fraction", "dead_pixel_fraction")
            ),
            ("bad_channels", self.bad_channels <= self.num_bands, "at most num_bands"),
            (
                "paint_layers",
                len(self.paint_layers) >= 1 and set(self.paint_layers) <= set(PAINT_RECIPES),
                f"a non-empty list of {', '.join(PAINT_RECIPES)}",
            ),
            (
                "paint_thickness",
                len(self.paint_thickness) == len(self.paint_layers)
                and all(t >= 0 for t in self.paint_thickness),
                "one non-negative fraction per paint layer",
            ),
            (
                "paint_thickness",
                self.ground_thickness >= 0.05,
                "small enough, with the resin and crust thicknesses, to leave at least 0.05 of "
                "the depth to the ground",
            ),
            (
                "minor_material",
                self.minor_material in ("", *MATERIALS),
                f'"" or one of {", ".join(MATERIALS)}',
            ),
            (
                "minor_layer",
                not self.minor_material or self.minor_layer in self.paint_layers,
                "one of paint_layers",
            ),
        ]
        for name, ok, requirement in rules:
            if not ok:
                raise FTIRUnmixerError(
                    f"synthetic.{name} = {getattr(self, name)!r} is invalid; it must be "
                    f"{requirement}."
                )


_TYPE_WORDS = {list: "a list", bool: "true or false", int: "an integer", float: "a number"}


def _coerce(name: str, value: object, default: object) -> object:
    """Convert a configured value to the type of the field's default (Hydra, CLI, JSON)."""
    kind = type(default)
    number = (
        isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    )
    if kind is list and isinstance(value, Sequence) and not isinstance(value, str):
        return [_coerce(name, item, default[0]) for item in value]
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and number and float(value).is_integer():
        return int(value)
    if kind is float and number:
        return float(value)
    if kind is str and isinstance(value, str):
        return value
    raise FTIRUnmixerError(
        f"synthetic.{name} = {value!r} is invalid; it must be {_TYPE_WORDS.get(kind, 'a string')}."
    )


@dataclass
class SyntheticScene:
    """A generated cross-section.

    Attributes:
        tiles: ``tile_00``, ``tile_01`` … → ``(tile_rows, tile_cols, B)`` float32, in stacking
            order.
        wavenumbers: ``(B,)`` float64 axis (cm⁻¹).
        mask: ``(H, W)`` bool, False at dead detector elements.
        ground_truth: endmembers ``(B, K)``, abundances ``(H, W, K)`` (float32) and names.
        atmosphere: ``(num_tiles, B)`` atmospheric residual added to every pixel of each tile.
        config: the settings it was generated from.

    """

    tiles: dict[str, np.ndarray]
    wavenumbers: np.ndarray
    mask: np.ndarray
    ground_truth: GroundTruth
    atmosphere: np.ndarray
    config: SyntheticConfig

    @property
    def cube(self) -> np.ndarray:
        """The ``(H, W, B)`` cube: the tiles stacked along the depth."""
        return np.concatenate(list(self.tiles.values()), axis=0)


def wavenumber_axis(config: SyntheticConfig) -> np.ndarray:
    """Return the scene's axis ``nu_max − b·step`` (cm⁻¹), descending or ascending."""
    wn = config.nu_max - config.step * np.arange(config.num_bands)
    return wn if config.descending else wn[::-1].copy()


def _overlay(abundances: np.ndarray, weight: np.ndarray, k: int) -> None:
    """Replace a fraction ``weight`` of every pixel by material ``k`` (keeps the sum)."""
    abundances *= (1.0 - weight)[..., None]
    abundances[..., k] += weight


def _jitter(composition: np.ndarray, amplitude: float, rng: np.random.Generator) -> None:
    """Vary a layer's matrix fractions smoothly across the image, in place (keeps the sum).

    Each present material's fraction is multiplied by ``exp(amplitude · z)`` with ``z`` a
    smooth random field of unit standard deviation, then the fractions are renormalised, so
    the layer's pixels spread along the facet of its materials instead of sitting on one point.
    """
    height, width, _ = composition.shape
    present = np.flatnonzero(composition[0, 0] > 0)
    field = ndimage.gaussian_filter(
        rng.standard_normal((present.size, height, width)),
        sigma=(0, max(2.0, height / 16), max(2.0, width / 16)),
    )
    field /= field.std(axis=(1, 2), keepdims=True)
    composition[..., present] *= np.exp(amplitude * np.moveaxis(field, 0, -1))
    composition /= composition.sum(axis=-1, keepdims=True)


def _cap(abundances: np.ndarray, cap: float, exempt: int) -> None:
    """Limit every material but ``exempt`` to ``cap``, in place (keeps the sum).

    A material's excess above the cap goes to the pixel's other materials in proportion to
    their abundances, in rounds until no material exceeds the cap (a pixel made of one
    material alone keeps it).
    """
    capped = np.arange(abundances.shape[-1]) != exempt
    for _ in range(_CAP_ROUNDS):
        excess = np.clip(abundances - cap, 0.0, None) * capped
        if excess.max() <= 1e-12:
            return
        receivers = np.where(excess > 0, 0.0, abundances)
        room = receivers.sum(axis=-1, keepdims=True)
        share = np.divide(receivers, room, out=np.zeros_like(receivers), where=room > 0)
        moved = excess * (room > 0)
        abundances += moved.sum(axis=-1, keepdims=True) * share - moved


def _blur(maps: np.ndarray, fwhm_px: float) -> np.ndarray:
    """Gaussian blur of ``(H, W, K)`` maps; 'nearest' edges keep sums and non-negativity."""
    if fwhm_px <= 0:
        return maps
    sigma = fwhm_px * _FWHM_TO_SIGMA
    return ndimage.gaussian_filter(maps, sigma=(sigma, sigma, 0.0), mode="nearest")


def _interfaces(
    config: SyntheticConfig, thicknesses: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Depth (rows) of every layer boundary per column, ``(L + 1, W)``, from 0 to H.

    The inner boundaries are at the cumulative thicknesses plus a smooth random displacement
    of at most ``interface_waviness · H`` (white noise filtered along the columns).
    """
    height, width = config.image_shape
    mean_depth = np.cumsum(thicknesses)[:-1] * height
    wave = ndimage.gaussian_filter1d(
        rng.standard_normal((mean_depth.size, width)), sigma=max(2.0, width / 6), axis=1
    )
    wave /= np.abs(wave).max(axis=1, keepdims=True)
    inner = mean_depth[:, None] + config.interface_waviness * height * wave
    bounds = np.vstack([np.zeros(width), inner, np.full(width, float(height))])
    return np.maximum.accumulate(np.clip(bounds, 0.0, height), axis=0)


def _grains(
    rng: np.random.Generator, shape: tuple[int, int], radius_px: float, coverage: float
) -> np.ndarray:
    """Pigment grains: a smooth random field thresholded to cover ``coverage`` of the area."""
    smooth = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=radius_px)
    return (smooth > np.quantile(smooth, 1.0 - coverage)).astype(np.float64)


def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of the pixel centres, ``(H, W)`` each."""
    rows, cols = np.mgrid[0:height, 0:width]
    return rows + 0.5, cols + 0.5


def _soap_aggregates(
    config: SyntheticConfig, bounds: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw rounded (elliptical) lead-soap aggregates centred on paint-layer interfaces.

    Returns:
        ``(H, W)`` 1 inside an aggregate, else 0.

    """
    height, width = config.image_shape
    n = config.soap_aggregates
    # The bottom boundary of each paint layer (paint layer i spans bounds[2 + i] … bounds[3 + i]).
    interface = rng.integers(len(config.paint_layers), size=n) + 3
    centre_col = rng.uniform(0.0, width, n)
    radius = config.soap_radius * height * rng.uniform(0.6, 1.4, n)
    aspect = rng.uniform(0.7, 1.0, n)
    angle = rng.uniform(0.0, np.pi, n)
    jitter = rng.uniform(-0.5, 0.5, n)
    rows, cols = _pixel_grid(height, width)
    inside = np.zeros((height, width), dtype=bool)
    for i in range(n):
        column = min(int(centre_col[i]), width - 1)
        dy = rows - (bounds[interface[i], column] + jitter[i] * radius[i])
        dx = cols - centre_col[i]
        u = (dy * np.cos(angle[i]) + dx * np.sin(angle[i])) / radius[i]
        v = (dx * np.cos(angle[i]) - dy * np.sin(angle[i])) / (radius[i] * aspect[i])
        inside |= u * u + v * v <= 1.0
    return inside.astype(np.float64)


def _cracks(config: SyntheticConfig, bounds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Wedge-shaped cracks from the sample surface down through the crust and first layer.

    Returns:
        ``(H, W)`` 1 inside a crack, else 0.

    """
    height, width = config.image_shape
    n = config.cracks
    top = rng.uniform(0.15, 0.85, n) * width
    tilt = rng.uniform(-0.3, 0.3, n)
    depth = rng.uniform(0.5, 1.0, n) * (config.crust_thickness + config.paint_thickness[0]) * height
    rows, cols = _pixel_grid(height, width)
    inside = np.zeros((height, width), dtype=bool)
    for i in range(n):
        below = rows - bounds[1, min(int(top[i]), width - 1)]
        frac = below / max(depth[i], 1e-9)
        half_width = 0.5 * CRACK_WIDTH_PX * (1.0 - frac)
        centre = top[i] + tilt[i] * below
        inside |= (frac >= 0) & (frac <= 1) & (np.abs(cols - centre) <= half_width)
    return inside.astype(np.float64)


def _abundance_maps(config: SyntheticConfig, streams: dict[str, np.random.Generator]) -> np.ndarray:
    """Unblurred abundances of every registered material, ``(H, W, len(MATERIALS))``."""
    height, width = config.image_shape
    index = {name: k for k, name in enumerate(MATERIALS)}
    crust = LayerRecipe(
        {"calcium_oxalate": config.crust_oxalate, "degraded_oil": 1.0 - config.crust_oxalate}
    )
    recipes = [
        RESIN,
        crust,
        *(PAINT_RECIPES[name] for name in config.paint_layers),
        GROUND,
        RESIN,
    ]
    thicknesses = np.array(
        [
            config.resin_top_thickness,
            config.crust_thickness,
            *config.paint_thickness,
            config.ground_thickness,
            config.resin_bottom_thickness,
        ]
    )
    bounds = _interfaces(config, thicknesses, streams["interfaces"])
    # Area fraction of each pixel lying in each layer: the row span [r, r + 1] cut by the
    # boundaries (exact for boundaries that are flat across a pixel's width).
    rows = np.arange(height, dtype=np.float64)[:, None]
    layer_weight = np.diff(np.clip(bounds[:, None, :] - rows, 0.0, 1.0), axis=0)

    abundances = np.zeros((height, width, len(MATERIALS)))
    for weight, recipe in zip(layer_weight, recipes, strict=True):
        composition = np.zeros((height, width, len(MATERIALS)))
        for name, fraction in recipe.matrix.items():
            composition[..., index[name]] = fraction
        if config.composition_jitter > 0 and len(recipe.matrix) > 1:
            _jitter(composition, config.composition_jitter, streams["composition"])
        if recipe.grain is not None:
            grains = _grains(
                streams["grains"],
                (height, width),
                config.particle_radius_px,
                config.particle_coverage,
            )
            _overlay(composition, config.grain_purity * grains, index[recipe.grain])
        abundances += weight[..., None] * composition

    if config.minor_material:
        layer = 2 + config.paint_layers.index(config.minor_layer)
        _overlay(
            abundances, config.minor_abundance * layer_weight[layer], index[config.minor_material]
        )

    if config.degradation_depth > 0:
        depth = rows + 0.5 - bounds[2]
        front = (depth >= 0) * np.exp(
            -np.clip(depth, 0.0, None) / (config.degradation_depth * height)
        )
        oil, degraded = index["linseed_oil"], index["degraded_oil"]
        moved = DEGRADED_OIL_MAX * front * abundances[..., oil]
        abundances[..., oil] -= moved
        abundances[..., degraded] += moved
        _overlay(abundances, OXALATE_FRONT_MAX * front, index["calcium_oxalate"])

    soaps = _soap_aggregates(config, bounds, streams["soaps"])
    _overlay(abundances, config.soap_purity * soaps, index["lead_soap"])
    _overlay(abundances, _cracks(config, bounds, streams["cracks"]), index["polyester_resin"])
    if config.max_abundance < 1:
        _cap(abundances, config.max_abundance, exempt=index["polyester_resin"])
    return abundances


def _chromatic_mix(
    maps: np.ndarray, endmembers: np.ndarray, wavenumbers: np.ndarray, fwhm_px: float
) -> np.ndarray:
    r"""Clean spectra with a PSF of FWHM ``fwhm_px · 1700/ν̃`` in each band, ``(H·W, B)``.

    The maps are blurred at a few widths spaced evenly in log(FWHM); each band takes the two
    nearest widths with linear (hat) weights ``w_lb`` that sum to one, so
    :math:`\mathbf X = \sum_l \mathrm{blur}_l(\mathbf A)\,(\mathbf E \odot \mathbf w_l)^\top`.
    """
    band_fwhm = np.log(fwhm_px * BLUR_REFERENCE_WAVENUMBER / wavenumbers)
    levels = np.linspace(band_fwhm.min(), band_fwhm.max(), _CHROMATIC_LEVELS)
    position = np.interp(band_fwhm, levels, np.arange(_CHROMATIC_LEVELS))
    weights = np.clip(1.0 - np.abs(position - np.arange(_CHROMATIC_LEVELS)[:, None]), 0.0, None)
    k = maps.shape[-1]
    return sum(
        _blur(maps, math.exp(level)).reshape(-1, k).astype(np.float32)
        @ (endmembers * weight[:, None]).T.astype(np.float32)
        for level, weight in zip(levels, weights, strict=True)
    )


def _tile_fields(config: SyntheticConfig, rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` smooth random fields per tile, each scaled to max |value| = 1, ``(count, H·W)``.

    One independent field per tile: every tile is a separate crystal contact.
    """
    shape = (count, config.num_tiles, config.tile_rows, config.tile_cols)
    sigma = max(config.tile_rows, config.tile_cols) / 4
    smooth = ndimage.gaussian_filter(
        rng.standard_normal(shape), sigma=(0, 0, sigma, sigma), mode="reflect"
    )
    smooth /= np.abs(smooth).max(axis=(2, 3), keepdims=True)
    return smooth.reshape(count, -1)


def noise_profile(wavenumbers: ArrayLike, edge_factor: float) -> np.ndarray:
    r"""U-shaped noise RMS relative to its value at 2000 cm⁻¹.

    .. math::

        \sigma(\tilde\nu)/\sigma_{2000} = 1 + (f - 1)\left(\frac{\tilde\nu - 2000}
            {\tilde\nu_e - 2000}\right)^4,

    with :math:`\tilde\nu_e` = 950 below 2000 cm⁻¹ and 3850 above, so the RMS reaches
    ``edge_factor`` (:math:`f`) at both edges of the FPA window (×3–10 towards 900–1000
    and above 3600 cm⁻¹).
    """
    wn = np.asarray(wavenumbers, dtype=np.float64)
    low, high = NOISE_EDGES
    edge = np.where(wn < NOISE_REFERENCE_WAVENUMBER, low, high)
    q = ((wn - NOISE_REFERENCE_WAVENUMBER) / (edge - NOISE_REFERENCE_WAVENUMBER)) ** 4
    return 1.0 + (edge_factor - 1.0) * q


def _add_artefacts(
    cube: np.ndarray,
    wavenumbers: np.ndarray,
    config: SyntheticConfig,
    streams: dict[str, np.random.Generator],
) -> tuple[np.ndarray, np.ndarray]:
    """Add the artefacts of the module docstring, in its order, to a ``(H·W, B)`` cube in place.

    Returns:
        The ``(H·W,)`` validity mask (False at dead pixels) and the ``(num_tiles, B)``
        atmospheric residual added to each tile.

    """
    wn = wavenumbers
    n_tiles, tile_pixels = config.num_tiles, config.tile_rows * config.tile_cols
    pixels, bands = cube.shape

    if config.gain_range > 0:
        (contact,) = _tile_fields(config, streams["gain"], 1)
        cube *= (1.0 - config.gain_range * (1.0 + contact) / 2.0).astype(np.float32)[:, None]

    if config.baseline_offset > 0 or config.baseline_slope > 0:
        offset, slope = _tile_fields(config, streams["baseline"], 2)
        across = (wn - wn.mean()) / (np.ptp(wn) / 2.0)
        cube += (
            config.baseline_offset * offset[:, None]
            + config.baseline_slope * slope[:, None] * across
        ).astype(np.float32)

    rng = streams["atmosphere"]
    coefficients = rng.choice([-1.0, 1.0], size=(2, n_tiles)) * rng.uniform(0.2, 1.0, (2, n_tiles))
    coefficients *= np.array([[config.atmosphere_co2], [config.atmosphere_h2o]])
    atmosphere = coefficients.T @ np.stack([co2_template(wn), water_template(wn)])
    if np.any(atmosphere):
        by_tile = cube.reshape(n_tiles, tile_pixels, bands)
        by_tile += atmosphere[:, None, :].astype(np.float32)

    if config.ripple_fraction > 0:
        rng = streams["ripples"]
        hit = np.flatnonzero(rng.random(pixels) < config.ripple_fraction)
        amplitude = rng.uniform(*RIPPLE_AMPLITUDE_AU, (hit.size, 1))
        period = rng.uniform(*RIPPLE_PERIOD, (hit.size, 1))
        phase = rng.uniform(0.0, 2.0 * np.pi, (hit.size, 1))
        cube[hit] += (amplitude * np.sin(2.0 * np.pi * wn / period + phase)).astype(np.float32)

    noise = None
    if config.noise_mau > 0:
        sigma = 1e-3 * config.noise_mau * noise_profile(wn, config.noise_edge_factor)
        noise = streams["noise"].standard_normal((pixels, bands), dtype=np.float32)
        noise = ndimage.correlate1d(noise, _NOISE_KERNEL.astype(np.float32), axis=1)
        noise *= sigma.astype(np.float32)
        cube += noise

    if config.spike_fraction > 0:
        rng = streams["spikes"]
        hit = np.flatnonzero(rng.random(pixels) < config.spike_fraction)
        band = rng.integers(bands, size=hit.size)
        size = rng.uniform(*SPIKE_AMPLITUDE_AU, hit.size) * rng.choice([-1.0, 1.0], hit.size)
        cube[hit, band] += size.astype(np.float32)

    rng = streams["bad_channels"]
    for i, band in enumerate(rng.choice(bands, size=config.bad_channels, replace=False)):
        if i % 3 == 2:
            cube[:, band] = rng.uniform(0.0, STUCK_CHANNEL_MAX_AU)
        else:
            cube[:, band] += rng.normal(0.0, HOT_CHANNEL_AU, pixels).astype(np.float32)

    mask = np.ones(pixels, dtype=bool)
    if config.dead_pixel_fraction > 0:
        count = math.ceil(config.dead_pixel_fraction * tile_pixels)
        where = streams["dead_pixels"].choice(tile_pixels, size=count, replace=False)
        dead = (np.arange(n_tiles)[:, None] * tile_pixels + where).ravel()
        cube[dead] = 0.0 if noise is None else noise[dead]
        mask[dead] = False
    return mask, atmosphere


def generate_cross_section(config: SyntheticConfig) -> SyntheticScene:
    """Generate the synthetic cross-section described in the module docstring.

    Args:
        config: the scene's settings.

    Returns:
        The tiles, axis, mask, ground truth and per-tile atmospheric residual.

    """
    seeds = np.random.SeedSequence(config.seed).spawn(len(_STREAMS))
    streams = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    height, width = config.image_shape
    rows = config.tile_rows
    wn = wavenumber_axis(config)

    maps = _abundance_maps(config, streams)
    present = maps.max(axis=(0, 1)) > 0
    names = [name for name, keep in zip(MATERIALS, present, strict=True) if keep]
    maps = maps[..., present]
    abundances = _blur(maps, config.blur_fwhm_px).astype(np.float32)
    endmembers = np.stack(list(material_library(wn, names).values()), axis=1).astype(np.float32)

    if config.chromatic_blur and config.blur_fwhm_px > 0:
        cube = _chromatic_mix(maps, endmembers, wn, config.blur_fwhm_px)
    else:
        cube = abundances.reshape(-1, len(names)) @ endmembers.T
    mask, atmosphere = _add_artefacts(cube, wn, config, streams)

    cube = cube.reshape(height, width, wn.size)
    return SyntheticScene(
        tiles={f"tile_{t:02d}": cube[t * rows : (t + 1) * rows] for t in range(config.num_tiles)},
        wavenumbers=wn,
        mask=mask.reshape(height, width),
        ground_truth=GroundTruth(endmembers=endmembers, abundances=abundances, names=names),
        atmosphere=atmosphere,
        config=config,
    )


def write_scene(path: PathLike, scene: SyntheticScene) -> Path:
    """Write a generated scene in the input HDF5 format (with ground truth and mask).

    The configuration is stored as JSON in the root attribute ``synthetic_config``, so
    ``SyntheticConfig(**json.loads(attrs["synthetic_config"]))`` regenerates the file.

    Args:
        path: destination file.
        scene: the generated scene.

    Returns:
        The written path.

    """
    return write_input(
        path,
        scene.tiles,
        scene.wavenumbers,
        mask=scene.mask,
        ground_truth=scene.ground_truth,
        units="absorbance",
        source=SOURCE,
        extra_attrs={"synthetic_config": json.dumps(asdict(scene.config))},
    )


def write_synthetic(path: PathLike, config: SyntheticConfig) -> Path:
    """Generate a scene and write it (see :func:`write_scene`).

    Args:
        path: destination file.
        config: the scene's settings.

    Returns:
        The written path.

    """
    return write_scene(path, generate_cross_section(config))


def write_reference_library(
    directory: PathLike, wavenumbers: ArrayLike, names: Sequence[str] | None = None
) -> list[Path]:
    """Write each material's spectrum as a two-column ``.dpt`` reference file.

    Files are named ``synthetic_<material>.dpt`` and hold comma-separated
    ``wavenumber,absorbance`` rows, wavenumbers descending (the OPUS export order).

    Args:
        directory: folder to write into (created if missing).
        wavenumbers: the axis to render the spectra on (cm⁻¹).
        names: materials to write; ``None`` writes the whole registry.

    Returns:
        The written files.

    """
    wn = np.sort(np.asarray(wavenumbers, dtype=np.float64))[::-1]
    written = []
    for name, spectrum in material_library(wn, names).items():
        path = Path(directory) / f"synthetic_{name}.dpt"
        with atomic_path(path) as tmp:
            np.savetxt(tmp, np.column_stack([wn, spectrum]), fmt="%.6f", delimiter=",")
        written.append(path)
    return written
