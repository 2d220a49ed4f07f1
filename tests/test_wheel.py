"""The wheel works outside the repository: its configs, its commands, a run from an empty folder.

The wheel is built (offline, with the installed setuptools) from a copy of the files a source
distribution holds, installed without dependencies into a fresh virtual environment that sees
this environment's packages through a ``.pth`` file (``.pth`` files inside that directory, such
as the editable install's, are not processed, so ``ftir_unmixer`` comes from the wheel), and
used from an empty directory, as a user who ran ``pip install ftir-unmixer`` would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from ftir_unmixer import __version__

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "ftir_unmixer"


def _run(*command: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    (source / "src").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        PACKAGE, source / "src" / "ftir_unmixer", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", dist, source)  # fmt: skip
    (wheel,) = dist.glob("ftir_unmixer-*.whl")
    return wheel


def _fresh_environment(tmp_path: Path) -> Path:
    """A virtual environment without pip that imports this environment's packages."""
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.stdout.strip()) / "project_dependencies.pth").write_text("\n".join(ours) + "\n")
    return venv


def test_wheel_holds_the_configs_and_trains_from_an_empty_directory(tmp_path):
    wheel = _build_wheel(tmp_path)
    assert wheel.name.startswith(f"ftir_unmixer-{__version__}-")
    shipped = {
        name.removeprefix("ftir_unmixer/")
        for name in zipfile.ZipFile(wheel).namelist()
        if name.endswith(".yaml")
    }
    configs = {p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "conf").rglob("*.yaml")}
    assert "conf/train.yaml" in configs and shipped == configs

    venv = _fresh_environment(tmp_path)
    python, bin_dir = venv / "bin" / "python", venv / "bin"
    _run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
         wheel)  # fmt: skip
    where = _run(python, "-c", "import ftir_unmixer; print(ftir_unmixer.__file__)").stdout
    assert Path(where.strip()).is_relative_to(venv)

    work = tmp_path / "empty"
    work.mkdir()
    version = _run(bin_dir / "ftir-unmixer", "--version", cwd=work).stdout
    assert version == f"ftir-unmixer {__version__}\n"
    _run(bin_dir / "ftir-unmixer", "synth", "-o", "tiny.h5", "--tiles", 2, "--rows", 12,
         "--cols", 10, "--bands", 120, "--set", "step=24.1", cwd=work)  # fmt: skip
    trained = _run(
        bin_dir / "ftir-unmixer-train",
        "data.path=tiny.h5",
        "model.num_endmembers=4",
        "model.hidden_channels=8",
        "data.patches_per_epoch=48",
        "data.batch_size=16",
        "trainer.max_epochs=1",
        "threads=1",
        "logger=csv",
        cwd=work,
    )
    # Outputs below the working directory (not the installed package), configs from the wheel.
    (run_dir,) = (work / "outputs" / "train" / "runs").iterdir()
    for name in (
        "results.h5",
        "endmembers.csv",
        "abundance_maps.png",
        "explorer.html",  # its template and script ship in the wheel
        ".hydra/config.yaml",
    ):
        assert (run_dir / name).is_file(), name
    assert sorted(p.name for p in work.iterdir()) == ["outputs", "tiny.h5"]
    # The console says each Lightning event once, without advertisement or deprecation noise.
    console = trained.stdout + trained.stderr
    assert console.count("GPU available:") == 1, console
    assert console.count("`Trainer.fit` stopped") == 1, console
    assert "litlogger" not in console and "deprecated" not in console, console
