"""Draw the learning curves of several runs in one figure (epochs on x).

Each run directory's ``results.h5`` holds the curve (``learning_curve/``) when it was
trained on data with ground truth (``callbacks.gt_curve.every_n_epochs`` > 0, the default):

    python scripts/learning_curves.py outputs/train/runs/A outputs/train/runs/B \\
        --labels paper recommended -o docs/learning_curves.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.results_file import read_learning_curve
from ftir_unmixer.io.run_folder import RESULTS_FILE
from ftir_unmixer.plots import plot_learning_curves, save_figure


def main(argv: list[str] | None = None) -> int:
    """Read the curves, draw them and save the figure; 2 with one sentence on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories (each with a results.h5)")
    parser.add_argument("--labels", nargs="+", help="one label per run (default: the paths)")
    parser.add_argument("-o", "--output", required=True, help="the PNG file to write")
    args = parser.parse_args(argv)
    try:
        labels = args.labels or args.runs
        if len(labels) != len(args.runs):
            raise FTIRUnmixerError(
                f"--labels gives {len(labels)} labels for {len(args.runs)} runs; give one per run."
            )
        curves = {
            label: read_learning_curve(Path(run) / RESULTS_FILE)
            for label, run in zip(labels, args.runs, strict=True)
        }
    except FTIRUnmixerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_figure(plot_learning_curves(curves), args.output)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
