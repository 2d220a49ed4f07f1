"""``ftir-unmixer convert`` and ``ftir-unmixer info`` through the command line."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from ftir_unmixer import __version__
from ftir_unmixer.cli import main
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import read_input, write_input

RNG = np.random.default_rng(11)
ROWS, COLS, BANDS = 4, 3, 20  # one tile; the maps below stack two of them


def axis(descending: bool = True, bands: int = BANDS) -> np.ndarray:
    wn = 900.0 + 1.928467 * np.arange(bands)
    return wn[::-1].copy() if descending else wn


def write_dpt(
    path: Path,
    wn: np.ndarray,
    cube: np.ndarray,
    *,
    sep: str = ",",
    eol: str = "\n",
    header: bool = False,
) -> Path:
    """Write a cube as an OPUS data point table: spectrum j = pixel (j // cols, j % cols)."""
    spectra = cube.transpose(2, 0, 1).reshape(cube.shape[2], -1)
    lines = [sep.join(["wavenumber", *(f"px{j}" for j in range(spectra.shape[1]))])] * header
    lines += [
        sep.join([repr(float(w)), *(repr(float(v)) for v in row)])
        for w, row in zip(wn, spectra, strict=True)
    ]
    path.write_bytes((eol.join(lines) + eol).encode())
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def files(folder: Path) -> list[str]:
    """All names in a folder, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir())


def cube(rows: int = 2 * ROWS, cols: int = COLS, bands: int = BANDS) -> np.ndarray:
    return RNG.random((rows, cols, bands)).astype(np.float32)


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [False, True], ids=["no-header", "header"])
@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
@pytest.mark.parametrize("eol", ["\r\n", "\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("sep", [",", "\t"], ids=["comma", "tab"])
def test_dpt_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sep: str, eol: str, descending, header
) -> None:
    expected, wn = cube(), axis(descending)
    src = write_dpt(tmp_path / "map.dpt", wn, expected, sep=sep, eol=eol, header=header)
    out_path = tmp_path / "data.h5"
    code, out, err = run(
        capsys, "convert", src, "-o", out_path, "--rows", 8, "--cols", 3, "--tile-rows", 4
    )
    assert (code, err) == (0, "")
    assert "wrote" in out and "2 tile(s) of 4, 4 rows" in out
    data = read_input(out_path)
    np.testing.assert_array_equal(data.cube, expected)
    np.testing.assert_array_equal(data.wavenumbers, wn)
    assert data.tile_names == ["map_0", "map_1"] and data.tile_rows == [4, 4]
    assert data.mask.all()
    assert data.attrs["source"] == "map.dpt (dpt)"
    assert data.attrs["converted_by"] == f"ftir-unmixer {__version__}"
    assert files(tmp_path) == ["data.h5", "map.dpt"]


def test_one_file_per_tile_in_the_given_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, wn = cube(ROWS), cube(ROWS), axis()
    write_dpt(tmp_path / "top.dpt", wn, first, sep="\t", eol="\r\n")
    write_dpt(tmp_path / "bottom.dpt", wn, second, sep="\t", eol="\r\n")
    code, _, _ = run(
        capsys, "convert", tmp_path / "bottom.dpt", tmp_path / "top.dpt",
        "-o", tmp_path / "d.h5", "--cols", 3,
    )  # fmt: skip
    assert code == 0
    data = read_input(tmp_path / "d.h5")
    assert data.tile_names == ["bottom", "top"]
    np.testing.assert_array_equal(data.cube, np.concatenate([second, first]))
    assert data.attrs["source"] == "bottom.dpt, top.dpt (dpt)"


def test_npz_and_mat_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import scipy.io

    expected, wn = cube(), axis()
    np.savez(tmp_path / "c.npz", cube=expected, wavenumbers=wn)
    assert run(capsys, "convert", tmp_path / "c.npz", "-o", tmp_path / "n.h5")[0] == 0
    np.testing.assert_array_equal(read_input(tmp_path / "n.h5").cube, expected)
    scipy.io.savemat(tmp_path / "c.mat", {"cube": expected, "wn": wn})
    code, _, _ = run(
        capsys, "convert", tmp_path / "c.mat", "--key", "cube", "-o", tmp_path / "m.h5"
    )
    assert code == 0
    np.testing.assert_array_equal(read_input(tmp_path / "m.h5").cube, expected)


def test_agilent_mosaic_converts_with_its_tiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agilent_format = pytest.importorskip("agilent_format")
    dmt = Path(agilent_format.__file__).parent / "datasets" / "5_mosaic_agg1024.dmt"
    code, out, _ = run(capsys, "convert", dmt, "-o", tmp_path / "a.h5")
    assert code == 0 and "8×4 px × 9 bands in 2 tile(s) of 4, 4 rows" in out
    data = read_input(tmp_path / "a.h5")
    assert data.shape == (8, 4, 9) and data.tile_rows == [4, 4]
    assert data.attrs["source"] == "5_mosaic_agg1024.dmt (agilent)"


def test_partial_agilent_mosaic_is_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mosaic with a missing FPA tile (as in agilent-format's own test) comes back NaN."""
    agilent_format = pytest.importorskip("agilent_format")
    folder = Path(agilent_format.__file__).parent / "datasets"
    for name in ("5_mosaic_agg1024.dmt", "5_Mosaic_agg1024_0000_0000.dmd"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    tile = (folder / "5_Mosaic_agg1024_0000_0001.dmd").read_bytes()
    (tmp_path / "5_Mosaic_agg1024_0000_0001.dmd").write_bytes(tile)
    (tmp_path / "5_Mosaic_agg1024_0001_0000.dmd").write_bytes(tile)
    code, out, err = run(
        capsys, "convert", tmp_path / "5_mosaic_agg1024.dmt", "-o", tmp_path / "d.h5"
    )
    assert code == 0
    assert "16 of 64 pixels contain NaN or Inf; they are masked" in err
    assert "8×8 px × 9 bands in 2 tile(s) of 4, 4 rows" in out
    data = read_input(tmp_path / "d.h5")
    assert data.mask.sum() == 48 and np.all(np.isfinite(data.cube))


# --- info ----------------------------------------------------------------------------------------


def test_info_describes_an_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ftir_unmixer.io.input_file import GroundTruth

    values = cube()
    values[..., 3] = 1.0
    mask = np.ones(values.shape[:2], bool)
    mask[0, :2] = False
    gt = GroundTruth(np.ones((BANDS, 2)), np.full((8, 3, 2), 0.5), ["oxalate", "soap"])
    tiles = {"t0": values[:ROWS], "t1": values[ROWS:]}
    write_input(tmp_path / "d.h5", tiles, axis(), mask=mask, ground_truth=gt, source="x.dpt")
    code, out, _ = run(capsys, "info", tmp_path / "d.h5")
    assert code == 0
    assert "geometry: H=8 W=3 B=20; 2 tile(s): t0 (4 rows), t1 (4 rows)" in out
    assert "axis: 936.64 → 900.00 cm⁻¹ (descending, mean step -1.9285 cm⁻¹)" in out
    assert "non-finite: 0 NaN and 0 Inf values in 0 pixel(s)" in out
    assert "constant bands: 1 (first at 930.86 cm⁻¹)" in out
    assert "valid pixels: 22 of 24 (91.7%), in the mask and finite" in out
    assert "ground truth: K=2 (oxalate, soap)" in out
    assert "  source: x.dpt" in out


def test_info_counts_nan_in_an_instrument_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = cube()
    values[1, 1, :2] = np.nan
    values[2, 2, 0] = np.inf
    write_dpt(tmp_path / "m.dpt", axis(), values)
    code, out, _ = run(capsys, "info", tmp_path / "m.dpt", "--rows", 8)
    assert code == 0
    assert "non-finite: 2 NaN and 1 Inf values in 2 pixel(s)" in out
    assert "format: dpt" in out


# --- bad inputs: exit status 2, one sentence naming the file and the fix, no output -----------


def test_info_on_a_cube_without_a_valid_pixel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_input(tmp_path / "nan.h5", {"t": np.full((8, 3, BANDS), np.nan, np.float32)}, axis())
    code, out, err = run(capsys, "info", tmp_path / "nan.h5")
    assert (code, out) == (2, "")
    assert err == (
        f"error: {tmp_path / 'nan.h5'}: none of its 24 pixels has a finite value in every band "
        "(NaN or Inf everywhere, or all masked), so it cannot be unmixed; check the export.\n"
    )


def test_nan_pixels_are_masked_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = cube()
    values[0, 0, 3] = np.nan
    values[5, 1, :] = np.inf
    write_dpt(tmp_path / "m.dpt", axis(), values)
    code, out, err = run(
        capsys, "convert", tmp_path / "m.dpt", "--rows", 8, "-o", tmp_path / "d.h5"
    )
    assert code == 0
    assert err == (
        f"warning: {tmp_path / 'm.dpt'}: 2 of 24 pixels contain NaN or Inf; they are masked "
        "and their non-finite values set to the band median of the valid pixels.\n"
    )
    assert "2 of 24 pixels masked" in out
    data = read_input(tmp_path / "d.h5")
    assert np.flatnonzero(~data.mask.ravel()).tolist() == [0, 16]
    assert np.all(np.isfinite(data.cube))


def test_too_many_nan_pixels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = cube()
    values[:3, :, 0] = np.nan  # 9 of 24 pixels
    write_dpt(tmp_path / "m.dpt", axis(), values)
    args = ["convert", tmp_path / "m.dpt", "--rows", 8, "-o", tmp_path / "d.h5"]
    code, _, err = run(capsys, *args, "--max-bad-fraction", 0.3)
    assert code == 2
    assert err == (
        f"error: {tmp_path / 'm.dpt'}: 9 of 24 pixels (37.5%) contain NaN or Inf, more than "
        "--max-bad-fraction 0.3; fix the export or raise --max-bad-fraction.\n"
    )
    assert files(tmp_path) == ["m.dpt"]
    assert run(capsys, *args, "--max-bad-fraction", 0.4)[0] == 0


def test_constant_band_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = cube()
    values[..., 0] = 0.0
    write_dpt(tmp_path / "m.dpt", axis(), values)
    code, _, err = run(capsys, "convert", tmp_path / "m.dpt", "--rows", 8, "-o", tmp_path / "d.h5")
    assert code == 0
    assert "1 of 20 bands have the same value in every valid pixel (first at 936.64" in err
    np.testing.assert_array_equal(read_input(tmp_path / "d.h5").cube, values)


def _bad_text_cases() -> list[tuple[str, bytes, str]]:
    good = b"1000.0,0.1,0.2\n998.0,0.3,0.4\n"
    return [
        ("empty", b"", r"is empty; export the data point table again\."),
        ("blank", b"\r\n\r\n  \n", r"is empty; export the data point table again\."),
        ("text", b"wavenumber,a\nfoo,bar\n", r"has no row of numbers .*; give a table"),
        (
            "truncated",
            good + b"996.0,0.5\n",
            r"line 3 has 2 values but line 1 has 3; the file is truncated or ragged",
        ),
        (
            "ragged",
            b"x,y,z\r\n" + good.replace(b"\n", b"\r\n") + b"996.0,0.5,0.6,0.7\r\n",
            r"line 4 has 4 values but line 2 has 3; the file is truncated or ragged",
        ),
        (
            "non-numeric",
            good + b"996.0,abc,0.6\n",
            r"line 3, column 2 holds 'abc', which is not a number; remove the text",
        ),
        ("binary", b"\x00\x01\x02\x03", r"is a binary file, not a text table; export"),
    ]


@pytest.mark.parametrize(("name", "content", "message"), _bad_text_cases(), ids=lambda v: v)
def test_bad_text_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, message: str
) -> None:
    src = tmp_path / f"{name}.dpt"
    src.write_bytes(content)
    code, _, err = run(capsys, "convert", src, "-o", tmp_path / "d.h5")
    assert code == 2
    assert err.startswith(f"error: {src}: ") and err.count("\n") == 1
    assert err.rstrip().endswith(".")
    assert re.search(message, err)
    assert files(tmp_path) == [src.name]


@pytest.mark.parametrize(
    ("wn", "message"),
    [
        (
            [1000.0, 998.0, 999.0, 996.0],
            r"not strictly ascending or descending \(value 999 at band 3 breaks the order\); "
            r"export a monotonic axis\.",
        ),
        (
            [1000.0, 998.0, 998.0, 996.0],
            r"not strictly ascending or descending \(value 998 at band 3 is duplicated\)",
        ),
    ],
    ids=["non-monotonic", "duplicated"],
)
def test_bad_wavenumber_axis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wn: list[float], message: str
) -> None:
    write_dpt(tmp_path / "m.dpt", np.array(wn), cube(1, 2, 4))
    code, _, err = run(capsys, "convert", tmp_path / "m.dpt", "--rows", 1, "-o", tmp_path / "d.h5")
    assert code == 2
    assert re.search(rf"^error: {re.escape(str(tmp_path / 'm.dpt'))}: .*{message}", err)
    assert files(tmp_path) == ["m.dpt"]


def test_wavenumber_count_does_not_match_bands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "c.npz", cube=cube(), wavenumbers=axis(bands=BANDS - 1))
    code, _, err = run(capsys, "convert", tmp_path / "c.npz", "-o", tmp_path / "d.h5")
    assert code == 2
    assert err == (
        f"error: {tmp_path / 'c.npz'}: the wavenumber axis has 19 values but the cube has 20 "
        "bands; export the axis that belongs to these spectra.\n"
    )
    np.save(tmp_path / "c.npy", cube())
    code, _, err = run(
        capsys, "convert", tmp_path / "c.npy", "--wavenumbers", "1:2:3", "-o", tmp_path / "d.h5"
    )
    assert code == 2 and "--wavenumbers 1:2:3: is neither an existing file nor START:STOP" in err
    assert files(tmp_path) == ["c.npy", "c.npz"]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ((ROWS, COLS + 1, BANDS), r"has 4 columns and 20 bands but .*a\.dpt has 3 and 20"),
        ((ROWS, COLS, BANDS + 1), r"has 3 columns and 21 bands but .*a\.dpt has 3 and 20"),
    ],
    ids=["widths", "band-counts"],
)
def test_tiles_that_do_not_fit_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second, message: str
) -> None:
    write_dpt(tmp_path / "a.dpt", axis(), cube(ROWS))
    write_dpt(tmp_path / "b.dpt", axis(bands=second[2]), cube(*second))
    code, _, err = run(
        capsys, "convert", tmp_path / "a.dpt", tmp_path / "b.dpt", "--rows", ROWS,
        "-o", tmp_path / "d.h5",
    )  # fmt: skip
    assert code == 2
    assert re.search(rf"^error: .*b\.dpt: {message}; all tiles must share width and band", err)
    assert files(tmp_path) == ["a.dpt", "b.dpt"]


def test_tiles_on_different_axes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_dpt(tmp_path / "a.dpt", axis(), cube(ROWS))
    write_dpt(tmp_path / "b.dpt", axis() + 0.5, cube(ROWS))
    code, _, err = run(
        capsys, "convert", tmp_path / "a.dpt", tmp_path / "b.dpt", "--cols", COLS,
        "-o", tmp_path / "d.h5",
    )  # fmt: skip
    assert code == 2
    assert "b.dpt: its wavenumber axis differs from that of" in err
    assert files(tmp_path) == ["a.dpt", "b.dpt"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rows", 5], r"m\.dpt: holds 24 spectra, which is not a multiple of --rows 5; give"),
        (["--rows", 4, "--cols", 5], r"holds 24 spectra but --rows 4 × --cols 5 = 20; give"),
        (["--cols", 3, "--tile-rows", 3], r"has 8 rows, which --tile-rows 3 does not divide"),
        (["--key", "x"], r"m\.dpt: --key does not apply to dpt files; drop it\."),
        (
            ["--rows", 8, "--wavenumbers", "1:2"],
            r"m\.dpt: has its own wavenumber axis; drop --wavenumbers",
        ),
        (["--format", "tiff"], r"--format tiff: unknown format; use one of dpt, opus,"),
    ],
    ids=["rows", "rows-cols", "tile-rows", "key", "wavenumbers", "format"],
)
def test_options_that_do_not_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[object], message: str
) -> None:
    write_dpt(tmp_path / "m.dpt", axis(), cube())
    code, _, err = run(capsys, "convert", tmp_path / "m.dpt", *argv, "-o", tmp_path / "d.h5")
    assert code == 2
    assert re.search(message, err) and err.count("\n") == 1
    assert files(tmp_path) == ["m.dpt"]


def test_missing_unreadable_and_unknown_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "d.h5"
    code, _, err = run(capsys, "convert", tmp_path / "nope.dpt", "-o", out_path)
    assert (code, err) == (2, f"error: {tmp_path / 'nope.dpt'}: no such file; check the path.\n")
    (tmp_path / "folder.dpt").mkdir()
    code, _, err = run(capsys, "convert", tmp_path / "folder.dpt", "-o", out_path)
    assert (code, err) == (
        2,
        f"error: {tmp_path / 'folder.dpt'}: is a directory; give a file inside it.\n",
    )
    (tmp_path / "x.xyz").write_text("1,2\n")
    code, _, err = run(capsys, "convert", tmp_path / "x.xyz", "-o", out_path)
    assert code == 2 and "x.xyz: unknown file type '.xyz'; name the format with --format" in err
    code, _, err = run(capsys, "convert", tmp_path / "x.xyz", "-o", tmp_path / "x.xyz")
    assert code == 2 and "is also an input; write to another file." in err
    assert files(tmp_path) == ["folder.dpt", "x.xyz"]


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_dpt(tmp_path / "m.dpt", axis(), cube())
    (tmp_path / "file").write_text("")
    code, _, err = run(
        capsys, "convert", tmp_path / "m.dpt", "--rows", 8, "-o", tmp_path / "file" / "d.h5"
    )
    assert code == 2
    assert f"error: -o {tmp_path / 'file' / 'd.h5'}: cannot be written" in err
    assert "choose a writable path." in err


def test_info_on_hdf5_without_the_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with h5py.File(tmp_path / "raw.h5", "w") as f:
        f.create_dataset("cube", data=np.zeros((2, 2, 3)))
    code, _, err = run(capsys, "info", tmp_path / "raw.h5")
    assert (code, err) == (
        2,
        f"error: {tmp_path / 'raw.h5'}: no 'wavenumbers' dataset; convert the data with "
        "`ftir-unmixer convert`.\n",
    )
    with h5py.File(tmp_path / "raw.h5", "a") as f:
        f.create_dataset("wavenumbers", data=axis(bands=3))
    with pytest.raises(FTIRUnmixerError, match=r"raw\.h5: no 'tiles' group with datasets"):
        read_input(tmp_path / "raw.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    code, _, err = run(capsys, "info", tmp_path / "text.h5")
    assert code == 2 and "text.h5: cannot be opened as HDF5" in err
