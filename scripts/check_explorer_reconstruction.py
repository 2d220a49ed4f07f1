"""How far the explorer's reconstruction f·A·Eᵀ is from the network's own, per normalisation.

For each ``data.normalization`` this trains a small run on a reduced bundled scene, then
compares, over the valid pixels and in input units:

* **mapping**: the explorer's ``f·A·Eᵀ`` (``endmembers`` dataset, ``f`` = 1 or the pixel norm
  for ``pixel_l2``) against the linear-mixing reconstruction computed in the model's space,
  ``A·E′ᵀ/s``, mapped back through the fitted normalisation: zero up to rounding when the
  map back is exact;
* **decoder**: the same against the decoder's actual output (the p×p convolution of the
  abundance maps, Eq. 2, divided by ``s``) mapped back: the part of the network's
  reconstruction that a per-pixel linear mixture does not hold;
* **residual**: the measured spectra against ``f·A·Eᵀ`` (what the explorer shows).

Each is reported as a maximum and an RMS relative to the RMS of the measured spectra.

    python scripts/check_explorer_reconstruction.py [--epochs 10] [--out outputs/recon_check]
    python scripts/check_explorer_reconstruction.py --runs outputs/full_quick   # existing runs
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from ftir_unmixer.explorer.run_data import load_run
from ftir_unmixer.models.module import FTIRUnmixerModule
from ftir_unmixer.training.config import CONFIG_DIR
from ftir_unmixer.training.pipeline import build, run

NORMALIZATIONS = ("band_minmax", "band_quantile", "band_noise", "none", "pixel_l2")
SCENE = [
    "synthetic.num_tiles=2",
    "synthetic.tile_rows=24",
    "synthetic.tile_cols=16",
    "synthetic.num_bands=300",
    "synthetic.step=9.64",
    "model.num_endmembers=6",
    "model.hidden_channels=16",
    "data.patches_per_epoch=512",
    "logger=none",
    "threads=1",
    "callbacks.explorer.enabled=false",
]


def _compose(overrides: list[str], output_dir: Path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def _relative(difference: np.ndarray, reference_rms: float) -> dict[str, float]:
    return {
        "max": float(np.max(np.abs(difference)) / reference_rms),
        "rms": float(np.sqrt(np.mean(difference**2)) / reference_rms),
    }


def compare(directory: Path) -> dict[str, dict[str, float]]:
    """Compare a network run's reconstructions (see the module docstring).

    The data module is rebuilt from the configuration stored in ``results.h5``; the network
    from the best-loss checkpoint, which the results come from.
    """
    explorer = load_run(directory)
    result, cube = explorer.result, explorer.cube
    cfg = OmegaConf.create(json.loads(result.attrs["config"]))
    dm = build(cfg.data)
    dm.prepare_data()
    dm.setup()
    module = FTIRUnmixerModule.load_from_checkpoint(
        directory / "checkpoints" / "best.ckpt",
        band_weights=dm.band_weight_estimate.weights,
        map_location="cpu",
    ).eval()
    with torch.no_grad():
        decoded, _ = module.net(dm.cube.permute(2, 0, 1)[None])
    pixels = cube.pixels.shape[0]
    scale = float(result.attrs["reconstruction_scale"])
    decoded = decoded[0].permute(1, 2, 0).reshape(pixels, -1).double().numpy() / scale
    abundances = result.abundances.reshape(pixels, -1).astype(np.float64)
    mixed = abundances @ result.endmembers_model.astype(np.float64).T / scale
    factor = np.ones(pixels) if cube.reconstruction_factor is None else cube.reconstruction_factor
    back = dm.normalizer.endmembers_to_input  # per band: e·span + lo, works on any (B, N)
    shown = np.stack([explorer.reconstruction(p) for p in range(pixels)])
    valid = cube.valid
    height, width = cube.shape
    edge = cfg.data.patch_size // 2
    interior = np.zeros((height, width), bool)
    interior[edge : height - edge, edge : width - edge] = True
    interior = interior.reshape(-1)[valid]
    measured = cube.pixels.astype(np.float64)[valid]
    reference = float(np.sqrt(np.mean(measured**2)))
    decoder = (shown - back(decoded.T).T * factor[:, None])[valid]
    return {
        "mapping": _relative((shown - back(mixed.T).T * factor[:, None])[valid], reference),
        "decoder": _relative(decoder, reference),
        "decoder_interior": _relative(decoder[interior], reference),
        "residual": _relative(measured - shown[valid], reference),
    }


def train(normalization: str, epochs: int, out: Path) -> Path:
    """Train the small run of one normalisation; returns its directory."""
    directory = out / normalization
    overrides = [*SCENE, f"data.normalization={normalization}", f"trainer.max_epochs={epochs}"]
    run(_compose(overrides, directory))
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="outputs/recon_check")
    parser.add_argument(
        "--runs", nargs="+", default=None, help="compare these runs instead of training"
    )
    args = parser.parse_args()
    if args.runs:
        directories = {Path(d).name: Path(d) for d in args.runs}
    else:
        directories = {n: train(n, args.epochs, Path(args.out)) for n in NORMALIZATIONS}
    report = {name: compare(directory) for name, directory in directories.items()}
    print(json.dumps(report, indent=2))
    columns = ("mapping max", "decoder rms", "interior rms", "interior max", "residual rms")
    print(f"{'run':14}" + "".join(f"{c:>14}" for c in columns))
    for name, row in report.items():
        values = (
            f"{row['mapping']['max']:.1e}",
            f"{row['decoder']['rms']:.2%}",
            f"{row['decoder_interior']['rms']:.2%}",
            f"{row['decoder_interior']['max']:.2%}",
            f"{row['residual']['rms']:.2%}",
        )
        print(f"{name:14}" + "".join(f"{v:>14}" for v in values))


if __name__ == "__main__":
    main()
