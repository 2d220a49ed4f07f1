"""``ftir-unmixer synth``: write the synthetic cross-section and, optionally, its references.

Example::

    ftir-unmixer synth -o data/synthetic.h5 --seed 3 --set atmosphere_co2=0.15 --library refs/
    ftir-unmixer synth -o data/mixed.h5 --scene highly_mixed

The scene (:mod:`ftir_unmixer.data.synthetic`) is written in the input HDF5 format with its
ground truth and mask. ``--scene`` starts from a preset of the training configuration's
``synthetic`` group (``default``, ``highly_mixed``, ``minor_component``, ``strong_artefacts``…,
composed as ``synthetic=<scene>`` is for training); ``--set KEY=VALUE`` then reaches every field
of ``SyntheticConfig`` (VALUE in YAML syntax, e.g. ``--set paint_layers=[earth,lead_white]
--set paint_thickness=[0.15,0.2]``), and the dedicated options win over ``--set``.
``--library DIR`` writes every material's spectrum on the scene's axis as
``DIR/synthetic_<material>.dpt``, a demo reference library for ``ftir-unmixer match``.
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
    parser.add_argument(
        "--scene",
        default="default",
        help="preset of the synthetic config group, e.g. highly_mixed (default: default)",
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


def scene_preset(scene: str) -> dict[str, object]:
    """The ``SyntheticConfig`` fields of a preset, composed as ``synthetic=<scene>`` in training.

    Raises:
        FTIRUnmixerError: for a name that is not a file of the ``synthetic`` config group.
    """
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from ftir_unmixer.errors import FTIRUnmixerError
    from ftir_unmixer.training.config import CONFIG_DIR

    presets = sorted(p.stem for p in (CONFIG_DIR / "synthetic").glob("*.yaml"))
    if scene not in presets:
        raise FTIRUnmixerError(
            f"synth --scene {scene!r} is not a synthetic preset; choose one of "
            f"{', '.join(presets)}."
        )
    with initialize_config_dir(str(CONFIG_DIR / "synthetic"), version_base="1.3"):
        values = OmegaConf.to_container(compose(config_name=scene))
    values.pop("_target_", None)
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
    from ftir_unmixer.io.describe import purity_summary

    names = [f.name for f in fields(SyntheticConfig)]
    config = SyntheticConfig(**(scene_preset(args.scene) | _config_values(args, names)))
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
    print(f"purity (largest abundance): {purity_summary(scene.ground_truth)}")
    if args.library:
        written = write_reference_library(args.library, scene.wavenumbers)
        print(f"wrote {len(written)} reference spectra to {args.library}:")
        for file in written:
            print(f"  {file}")
    return 0
