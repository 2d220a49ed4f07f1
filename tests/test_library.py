"""Reference library loading, resampling, identification and the ``match`` command."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ftir_unmixer.cli import main
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.library import (
    Candidate,
    ReferenceLibrary,
    ReferenceSpectrum,
    format_label,
    identification_labels,
    identify,
    resample_to_grid,
)
from ftir_unmixer.io.results_file import DIAGNOSTIC_NAMES, UnmixingResult, write_results

# Target axis: the FPA grid, descending as in OPUS exports.
TARGET = 3849.2 - 1.92847 * np.arange(300) * 5  # 300 bands, 3849 → 966 cm⁻¹

# Distinct synthetic materials: (centre cm⁻¹, FWHM, height) peaks.
MATERIALS = {
    "lead soap": [(1513, 25, 1.0), (1540, 20, 0.5), (2918, 30, 0.6), (2850, 20, 0.4)],
    "calcium oxalate": [(1620, 50, 1.0), (1318, 20, 0.8), (3300, 300, 0.25)],
    "protein": [(1650, 60, 1.0), (1545, 60, 0.7), (3300, 250, 0.4), (1240, 50, 0.2)],
    "lead white": [(1400, 80, 1.0), (3535, 15, 0.3), (1045, 10, 0.2)],
}


def peaks(wn: np.ndarray, spec: list[tuple[float, float, float]]) -> np.ndarray:
    sigma = np.array([w for _, w, _ in spec]) / 2.355
    centres = np.array([c for c, _, _ in spec])
    heights = np.array([h for _, _, h in spec])
    return (heights * np.exp(-0.5 * ((wn[:, None] - centres) / sigma) ** 2)).sum(axis=1)


def reference_grid(i: int) -> np.ndarray:
    """Each reference on its own grid: other spacing, range and order than TARGET."""
    grid = np.linspace(650.0 + 10 * i, 4000.0 - 7 * i, 1700 + 37 * i)
    return grid[::-1] if i % 2 else grid


@pytest.fixture
def library() -> ReferenceLibrary:
    return ReferenceLibrary(
        ReferenceSpectrum(name, reference_grid(i), 0.01 + peaks(reference_grid(i), spec))
        for i, (name, spec) in enumerate(MATERIALS.items())
    )


def test_resample_descending_to_ascending_and_back():
    src = np.arange(4000.0, 899.0, -2.0)  # descending, 2 cm⁻¹
    values = np.sin(src / 150.0) + src / 4000.0
    target = np.arange(700.0, 4200.5, 0.5)  # ascending, finer and wider than src
    there = resample_to_grid(src, values, target)
    inside = (target >= 900.0) & (target <= 4000.0)
    assert np.all(np.isnan(there[~inside]))  # never extrapolates
    assert not np.any(np.isnan(there[inside]))
    np.testing.assert_allclose(
        there[inside], np.sin(target[inside] / 150.0) + target[inside] / 4000.0, atol=1e-4
    )
    back = resample_to_grid(target[inside], there[inside], src)  # cropped, then back
    assert not np.any(np.isnan(back))
    np.testing.assert_allclose(back, values, rtol=0, atol=1e-12)
    # identical grids in opposite orders are an exact reordering
    np.testing.assert_array_equal(resample_to_grid(src[::-1], values[::-1], src), values)


def test_resample_keeps_the_target_order():
    src = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(
        resample_to_grid(src, src * 10, [3.0, 2.5, 0.0]), [30, 25, np.nan]
    )


def write_table(path: Path, wn: np.ndarray, values: np.ndarray, style: str) -> None:
    if style == "dpt":  # OPUS: tab, CRLF, no header
        text = "".join(f"{w:.5f}\t{v:.6f}\r\n" for w, v in zip(wn, values, strict=True))
    elif style == "csv":
        text = "wavenumber,absorbance\n" + "".join(
            f"{w},{v}\n" for w, v in zip(wn, values, strict=True)
        )
    elif style == "semicolon":
        text = "".join(f"{w:.4f};{v:.6f}\n" for w, v in zip(wn, values, strict=True))
    else:
        text = "# reference\n" + "".join(f"{w}  {v}\n" for w, v in zip(wn, values, strict=True))
    path.write_bytes(text.encode())


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "refs"
    (folder / "sub").mkdir(parents=True)
    styles = {"lead soap": "dpt", "calcium oxalate": "csv", "protein": "semicolon"}
    suffix = {"dpt": ".dpt", "csv": ".csv", "semicolon": ".txt", "spaces": ".txt"}
    for i, (name, spec) in enumerate(MATERIALS.items()):
        style = styles.get(name, "spaces")
        parent = folder / "sub" if style == "spaces" else folder
        grid = reference_grid(i)
        write_table(parent / f"{name}{suffix[style]}", grid, peaks(grid, spec), style)
    (folder / "notes.md").write_text("not a spectrum")
    return folder


def test_library_loads_every_format_from_a_folder(library_dir: Path):
    lib = ReferenceLibrary.from_paths([library_dir])
    assert sorted(lib.names) == sorted(MATERIALS)
    for i, name in enumerate(MATERIALS):
        (ref,) = [s for s in lib if s.name == name]
        np.testing.assert_allclose(np.sort(ref.wavenumbers), np.sort(reference_grid(i)), atol=1e-3)
    grid = lib.on_grid(TARGET)
    assert grid.shape == (TARGET.size, len(MATERIALS))


def test_library_errors(tmp_path: Path):
    with pytest.raises(FTIRUnmixerError, match="no such file"):
        ReferenceLibrary.from_paths([tmp_path / "missing"])
    with pytest.raises(FTIRUnmixerError, match="holds no"):
        ReferenceLibrary.from_paths([tmp_path])
    with pytest.raises(FTIRUnmixerError, match="empty"):
        ReferenceLibrary([])


def mixed_endmembers(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Noisy, scaled, baseline-shifted versions of the materials, in shuffled order."""
    names = ["protein", "lead white", "lead soap", "calcium oxalate"]
    cols = [
        rng.uniform(0.5, 3.0) * peaks(TARGET, MATERIALS[n])
        + 0.01
        + rng.normal(0, 0.003, TARGET.size)
        for n in names
    ]
    return np.stack(cols, axis=1), names


def test_identify_names_each_material(library: ReferenceLibrary):
    E, names = mixed_endmembers(np.random.default_rng(0))
    unknown = peaks(TARGET, [(2100, 40, 1.0), (1100, 30, 0.5)])
    E = np.column_stack([E, unknown])
    result = identify(E, TARGET, library)
    assert [r.endmember for r in result] == [0, 1, 2, 3, 4]
    for ident, name in zip(result, names, strict=False):
        assert ident.match is not None and ident.match.reference == name
        assert ident.match.angle_deg < 5.0
        assert ident.match.correlation > 0.98
        assert len(ident.candidates) == 3
        assert [c.angle_deg for c in ident.candidates] == sorted(
            c.angle_deg for c in ident.candidates
        )
    assert result[4].match is None
    assert identification_labels(result)[4] == "no match"
    assert identification_labels(result)[2].startswith("lead soap, ")


def test_band_weights_ignore_a_corrupted_window(library: ReferenceLibrary):
    e = peaks(TARGET, MATERIALS["calcium oxalate"])
    co2 = (TARGET > 2280) & (TARGET < 2400)
    corrupted = e + 3.0 * co2
    plain = identify(corrupted[:, None], TARGET, library)[0]
    weights = np.where(co2, 0.0, 1.0)
    weighted = identify(corrupted[:, None], TARGET, library, band_weights=weights)[0]
    assert plain.match is None  # the artefact pushes the angle above the threshold
    assert weighted.match is not None and weighted.match.reference == "calcium oxalate"
    clean = identify(e[:, None], TARGET, library, band_weights=weights)[0].match
    assert weighted.match.angle_deg == pytest.approx(clean.angle_deg)  # artefact fully ignored
    assert weighted.match.num_bands == int((~co2).sum())


def test_references_with_too_little_overlap_are_skipped():
    narrow = np.linspace(1500.0, 1530.0, 20)  # covers only ~3 target bands
    lib = ReferenceLibrary([ReferenceSpectrum("narrow", narrow, np.ones(20))])
    (ident,) = identify(np.ones((TARGET.size, 1)), TARGET, lib)
    assert ident.candidates == () and ident.match is None


def test_format_label():
    assert format_label(Candidate("lead soap", 4.14, 0.99, 1504)) == "lead soap, 4.1°"
    assert format_label(None) == "no match"


def test_match_command_prints_and_writes_csv(library_dir: Path, tmp_path: Path, capsys):
    E, names = mixed_endmembers(np.random.default_rng(1))
    h, w = 2, 3
    result = UnmixingResult(
        abundances=np.full((h, w, E.shape[1]), 1.0 / E.shape[1]),
        endmembers=E,
        endmembers_model=E,
        wavenumbers=TARGET,
        band_weights=np.ones(TARGET.size),
        band_diagnostics={n: np.zeros(TARGET.size) for n in DIAGNOSTIC_NAMES},
        reconstruction_error=np.zeros((h, w)),
    )
    results = write_results(tmp_path / "results.h5", result)
    table = tmp_path / "out" / "ids.csv"
    code = main(["match", str(results), "--library", str(library_dir), "-o", str(table)])
    assert code == 0
    out = capsys.readouterr().out
    assert "endmember 1: protein, " in out
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * len(names)
    best = [r for r in rows if r["rank"] == "1"]
    assert [r["reference"] for r in best] == names
    assert all(r["label"].startswith(r["reference"] + ", ") for r in best)
    assert not list(table.parent.glob(".*tmp"))

    assert main(["match", str(results), "--library", str(tmp_path / "nowhere")]) == 2
