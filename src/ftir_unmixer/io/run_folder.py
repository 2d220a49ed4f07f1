"""The layout of a run's output directory: the one place that names its files.

Every run (network or baseline) writes ``results.h5``, ``endmembers.csv``, three PNG
figures and ``explorer.html`` into its directory; a job that fails inside a sweep writes
``error.txt`` instead.
Hydra adds ``.hydra/`` (the composed configuration and the overrides), the configuration adds
``checkpoints/`` (``conf/callbacks/default.yaml``). docs/file-formats.md describes each file.
"""

from __future__ import annotations

RESULTS_FILE = "results.h5"
"""The results contract (:mod:`ftir_unmixer.io.results_file`)."""

ENDMEMBERS_CSV = "endmembers.csv"
"""A ``wavenumber`` column and one column per endmember, in input units."""

FIGURE_FILES = {
    "abundance_maps": "abundance_maps.png",
    "endmembers": "endmembers.png",
    "band_weights": "band_weights.png",
}
"""Figure name → file name."""

EXPLORER_FILE = "explorer.html"
"""The interactive explorer of the run (:mod:`ftir_unmixer.explorer`), beside the results."""

ERROR_FILE = "error.txt"
"""Written by a job that failed inside a sweep: its error sentence, or the traceback."""

HYDRA_DIR = ".hydra"
"""Hydra's record of the job: ``config.yaml``, ``hydra.yaml`` and ``overrides.yaml``."""

OVERRIDES_FILE = "overrides.yaml"
"""The job's command-line overrides, inside :data:`HYDRA_DIR`."""
