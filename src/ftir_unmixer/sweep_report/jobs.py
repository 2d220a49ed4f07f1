"""The jobs of a sweep: their overrides, results or errors, swept keys and groups."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.results_file import UnmixingResult, read_results
from ftir_unmixer.io.run_folder import ERROR_FILE, HYDRA_DIR, OVERRIDES_FILE, RESULTS_FILE

LOSS_KEYS = frozenset({"loss", "loss.name", "experiment"})
"""Swept keys that select the loss; SAD and WSAD runs are paired across them."""
K_KEYS = frozenset({"model.num_endmembers"})
SEED_KEYS = frozenset({"seed"})
WEIGHT_KEYS = ("model.volume_weight", "model.sparsity_weight")
"""Swept keys that weigh a regularisation prior (the network's minimum-volume and sparsity
terms; a baseline's volume weight belongs here too unless it reuses ``model.volume_weight``);
a sweep over one of them gets the weight chosen at the knee of reconstruction angle against
endmember volume."""
METRIC_PREFIXES = ("gt/", "diag/", "id/")
PROVENANCE = ("method", "loss", "K", "seed")


@dataclass
class Job:
    """One job of a sweep.

    Attributes:
        name: its directory relative to the multirun directory (e.g. ``3``).
        directory: its output directory.
        overrides: the task overrides (``key → value``, ``+``/``~`` prefixes removed).
        result: the results, None if the job did not finish.
        error: the recorded error (``error.txt``) or the reason no result could be read.
    """

    name: str
    directory: Path
    overrides: dict[str, str]
    result: UnmixingResult | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        """``ok``, ``failed`` (an error was recorded) or ``incomplete`` (killed or running)."""
        if self.result is not None:
            return "ok"
        return "failed" if self.error else "incomplete"

    @property
    def provenance(self) -> dict[str, object]:
        """Method, loss, K and seed from the results (empty if the job did not finish)."""
        if self.result is None:
            return {}
        attrs = self.result.attrs
        return {
            "method": attrs.get("method", "ftir_unmixer"),
            "loss": attrs.get("loss"),
            "K": self.result.num_endmembers,
            "seed": attrs.get("seed"),
        }


def _parse_overrides(lines: Iterable[str]) -> dict[str, str]:
    pairs = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        pairs[key.lstrip("+~")] = value
    return pairs


def collect_jobs(multirun_dir: str | os.PathLike[str]) -> list[Job]:
    """Find and read every job below a multirun directory.

    Args:
        multirun_dir: the ``hydra.sweep.dir`` of a ``-m`` run (or a single run's directory).

    Returns:
        The jobs, ordered by their directory (numerically where the names are numbers).

    Raises:
        FTIRUnmixerError: if the directory holds no Hydra job.
    """
    root = Path(multirun_dir)
    if not root.is_dir():
        raise FTIRUnmixerError(f"{root}: no such directory; give the directory of a sweep.")
    files = [p for p in root.rglob(OVERRIDES_FILE) if p.parent.name == HYDRA_DIR]
    if not files:
        raise FTIRUnmixerError(
            f"{root}: no Hydra job found (no .hydra/overrides.yaml below it); give the "
            "directory of a `python -m ftir_unmixer.train -m …` sweep."
        )
    jobs = []
    for overrides_file in files:
        directory = overrides_file.parent.parent
        name = directory.relative_to(root).as_posix() if directory != root else directory.name
        job = Job(
            name, directory, _parse_overrides(yaml.safe_load(overrides_file.read_text()) or [])
        )
        error_file = directory / ERROR_FILE
        if (directory / RESULTS_FILE).is_file():
            try:
                job.result = read_results(directory / RESULTS_FILE)
            except FTIRUnmixerError as exc:
                job.error = str(exc)
        elif error_file.is_file():
            job.error = error_file.read_text().strip()
        jobs.append(job)
    return sorted(jobs, key=lambda j: [int(p) if p.isdigit() else p for p in j.name.split("/")])


def swept_keys(jobs: Sequence[Job]) -> list[str]:
    """The override keys whose values differ between jobs (or that only some jobs set)."""
    keys: list[str] = []
    for job in jobs:
        keys += [k for k in job.overrides if k not in keys]
    return [k for k in keys if len({j.overrides.get(k) for j in jobs}) > 1]


def metric_columns(jobs: Sequence[Job], *, scalar_only: bool) -> list[str]:
    """The metric names present in the finished jobs, ``gt/`` then ``diag/`` then ``id/``.

    Args:
        jobs: the jobs.
        scalar_only: keep only ``prefix/name`` keys (no per-material ``prefix/kind/name``).
    """
    names = {k for j in jobs if j.result is not None for k in j.result.metrics}
    return [
        k
        for prefix in METRIC_PREFIXES
        for k in sorted(names)
        if k.startswith(prefix) and (not scalar_only or k.count("/") == 1)
    ]


def group_jobs(
    jobs: Sequence[Job], keys: Sequence[str], ignore: frozenset[str]
) -> dict[str, list[Job]]:
    """Finished jobs grouped by their values of ``keys`` other than ``ignore``.

    Returns:
        Group label (``key=value …``, or ``all`` when nothing else is swept) → jobs.
    """
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.result is None:
            continue
        label = " ".join(f"{k}={job.overrides.get(k, '')}" for k in keys if k not in ignore)
        groups.setdefault(label or "all", []).append(job)
    return groups
