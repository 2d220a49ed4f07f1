"""``ftir-unmixer synth``: write the synthetic cross-section and, optionally, its references.

Example::

    ftir-unmixer synth -o data/synthetic.h5 --seed 3 --set atmosphere_co2=0.15 --library refs/

The scene (:mod:`ftir_unmixer.data.synthetic`) is written in the input HDF5 format with its
ground truth and mask; ``--set KEY=VALUE`` reaches every field of ``SyntheticConfig`` (VALUE in
YAML syntax, e.g. ``--set paint_layers=[earth,lead_white] --set paint_thickness=[0.15,0.2]``),
and the dedicated options win over ``--set``. ``--library DIR`` writes every material's
spectrum on the scene's axis as ``DIR/synthetic_<material>.dpt``, a demo reference library
for ``ftir-unmixer match``.
"""

from __future__ import annotations

import argparse
import time

NAME = "synth"
HELP = "Generate the synthetic ATR-µFTIR cross-section (input HDF5 with ground truth)."

_OPTIONS = {
    "seed": "seed",
    "tiles": "num_tiles",
    "rows": "tile_rows",
    "cols": "tile_cols",
    "bands": "num_bands",
}
"""Dedicated option → ``SyntheticConfig`` field."""


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``synth`` arguments."""
    parser.add_argument(
        "-o", "--output", metavar="PATH", required=True, help="input HDF5 file to write"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: 0)")
    parser.add_argument("--tiles", type=int, help="detector tiles along the depth (default: 5)")
    parser.add_argument("--rows", type=int, help="rows per tile (default: 64)")
    parser.add_argument("--cols", type=int, help="columns per tile (default: 64)")
    parser.add_argument("--bands", type=int, help="number of bands (default: 1504)")
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="set any SyntheticConfig field, VALUE in YAML syntax (repeatable)",
    )
    parser.add_argument(
        "--library",
        metavar="DIR",
        help="also write each material's reference spectrum as DIR/synthetic_<material>.dpt",
    )


def _config_values(args: argparse.Namespace, fields: list[str]) -> dict[str, object]:
    """Collect the ``SyntheticConfig`` arguments of ``--set`` and the dedicated options."""
    import yaml

    from ftir_unmixer.errors import FTIRUnmixerError

    values: dict[str, object] = {}
    for pair in args.overrides:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise FTIRUnmixerError(
                f"synth --set {pair!r}: expected KEY=VALUE with KEY one of {', '.join(fields)}."
            )
        try:
            values[key] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise FTIRUnmixerError(
                f"synth --set {pair!r}: the value is not valid YAML; quote strings and write "
                "lists as [a, b]."
            ) from None
    for option, key in _OPTIONS.items():
        if getattr(args, option) is not None:
            values[key] = getattr(args, option)
    return values


def run(args: argparse.Namespace) -> int:
    """Generate and write the scene (and the reference library), then say what was written."""
    from dataclasses import fields

    from ftir_unmixer.data.synthetic import (
        SyntheticConfig,
        generate_cross_section,
        write_reference_library,
        write_scene,
    )

    config = SyntheticConfig(**_config_values(args, [f.name for f in fields(SyntheticConfig)]))
    start = time.perf_counter()
    scene = generate_cross_section(config)
    path = write_scene(args.output, scene)
    height, width, bands = scene.ground_truth.abundances.shape[:2] + scene.wavenumbers.shape
    names = scene.ground_truth.names
    print(
        f"wrote {path}: {len(scene.tiles)} tiles, {height}×{width} pixels × {bands} bands "
        f"({scene.wavenumbers.max():.1f}–{scene.wavenumbers.min():.1f} cm⁻¹), "
        f"{int((~scene.mask).sum())} masked pixels, {len(names)} materials "
        f"({', '.join(names)}), in {time.perf_counter() - start:.1f} s"
    )
    if args.library:
        written = write_reference_library(args.library, scene.wavenumbers)
        print(f"wrote {len(written)} reference spectra to {args.library}:")
        for file in written:
            print(f"  {file}")
    return 0
