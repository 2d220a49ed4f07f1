"""Instrument-file readers: real files shipped by the format packages, and round trips."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.dpt import read_dpt, read_spectrum_table, read_table
from ftir_unmixer.io.input_checks import InputWarning, validate_input
from ftir_unmixer.io.input_file import HyperspectralData
from ftir_unmixer.io.matlab import read_mat
from ftir_unmixer.io.numpy_files import read_npy, read_npz
from ftir_unmixer.io.reader_helpers import import_optional
from ftir_unmixer.io.readers import detect_format, load_wavenumbers, read_any

RNG = np.random.default_rng(7)
WN = np.linspace(3800.0, 900.0, 20)


def agilent_datasets() -> Path:
    agilent_format = pytest.importorskip("agilent_format")
    return Path(agilent_format.__file__).parent / "datasets"


# --- text tables ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1;0,5;1,5\n2;2,5;3,5\n",  # semicolon with decimal comma
        "1\t0,5\t1,5\r\n2\t2,5\t3,5\r\n",  # tab with decimal comma, CRLF
        "1  0.5   1.5\r2 2.5 3.5\r",  # whitespace, old Mac CR
        "x,y,z\n\n1,0.5,1.5,\n2,2.5,3.5,\n\n",  # header, blank lines, trailing separators
        "\ufeffWavenumber;A;B\n1;0.5;1.5\n2;2.5;3.5",  # BOM, header, no final newline
    ],
)
def test_read_table_formats(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    np.testing.assert_array_equal(read_table(path), [[1, 0.5, 1.5], [2, 2.5, 3.5]])


def test_read_spectrum_table(tmp_path: Path) -> None:
    path = tmp_path / "ref.dpt"
    path.write_bytes(b"3000.5\t0.25\r\n2998.57\t0.5\r\n2996.64\t-0.125\r\n")
    wn, values = read_spectrum_table(path)
    np.testing.assert_array_equal(wn, [3000.5, 2998.57, 2996.64])
    np.testing.assert_array_equal(values, [0.25, 0.5, -0.125])


def test_read_spectrum_table_refuses_maps(tmp_path: Path) -> None:
    path = tmp_path / "map.dpt"
    path.write_text("1,2,3\n2,3,4\n")
    with pytest.raises(FTIRUnmixerError, match=r"map\.dpt: has 3 columns; .* must have two"):
        read_spectrum_table(path)


def test_read_dpt_infers_the_missing_side_and_square_maps(tmp_path: Path) -> None:
    spectra = RNG.random((5, 12))
    path = tmp_path / "m.csv"
    np.savetxt(path, np.column_stack([np.arange(5.0), spectra]), delimiter=",")
    data = read_dpt(path, cols=4)
    assert data.shape == (3, 4, 5)
    np.testing.assert_allclose(data.cube[2, 1], spectra[:, 9], rtol=1e-6)
    with pytest.raises(
        FTIRUnmixerError, match=r"holds 12 spectra and no geometry was given; give --rows"
    ):
        read_dpt(path)
    np.savetxt(path, np.column_stack([np.arange(5.0), spectra[:, :9]]), delimiter=",")
    square = read_dpt(path)
    assert square.shape == (3, 3, 5)
    assert square.attrs["notes"] == ["assumed a square 3×3 map"]


# --- Agilent: the test images that agilent-format ships ---------------------------------


@pytest.mark.parametrize("name", ["4_noimage_agg256.dat", "4_noimage_agg256.seq"])
def test_agilent_tile(name: str) -> None:
    data = read_any(agilent_datasets() / name)
    assert data.shape == (8, 8, 9)
    assert data.tile_rows == [8]
    assert data.wavenumbers[0] == pytest.approx(1990.17823, abs=1e-5)
    assert data.wavenumbers[-1] == pytest.approx(2113.60013, abs=1e-5)
    # values and image orientation documented by agilent-format's own tests (MAT=True)
    assert data.cube[7, 1, 1] == pytest.approx(1.27181053)
    assert data.cube[7, 2, 2] == pytest.approx(1.27506005)
    assert data.cube[6, 2, 3] == pytest.approx(0.30882764)


@pytest.mark.parametrize("name", ["5_mosaic_agg1024.dmt", "5_Mosaic_agg1024.dms"])
def test_agilent_mosaic(name: str) -> None:
    data = read_any(agilent_datasets() / name)
    assert data.shape == (8, 4, 9)
    assert data.tile_rows == [4, 4]
    assert np.all(np.diff(data.wavenumbers) > 0)
    assert data.cube[7, 1, 1] == pytest.approx(1.14792180)
    assert data.cube[6, 2, 3] == pytest.approx(0.28298783)


def test_agilent_missing_companion_file(tmp_path: Path) -> None:
    (tmp_path / "lonely.dat").write_bytes(
        (agilent_datasets() / "4_noimage_agg256.dat").read_bytes()
    )
    with pytest.raises(FTIRUnmixerError, match=r"lonely\.dat: a companion file is missing"):
        read_any(tmp_path / "lonely.dat")


# --- ENVI ---------------------------------------------------------------------------------


def test_envi_header_shipped_with_agilent_images() -> None:
    """agilent-format ships an ENVI header for its tile; spectral reads the .dat through it."""
    pytest.importorskip("spectral")
    folder = agilent_datasets()
    data = read_any(folder / "4_noimage_agg256.hdr")
    assert data.shape == (8, 8, 9)
    assert data.wavenumbers[0] == 1990.17823  # the header's 'wavelength' field
    assert data.attrs["notes"] == ["the header gives no wavelength units; took the values as cm⁻¹"]
    tile = read_any(folder / "4_noimage_agg256.dat")  # MAT orientation: rows flipped
    np.testing.assert_array_equal(data.cube[::-1], tile.cube)


@pytest.mark.parametrize(
    ("units", "written", "expected"),
    [
        ("cm-1", WN, WN),
        ("Micrometers", 1e4 / WN, WN),
        ("nm", 1e7 / WN, WN),
    ],
)
def test_envi_round_trip(tmp_path: Path, units: str, written, expected) -> None:
    envi = pytest.importorskip("spectral.io.envi")
    cube = RNG.random((4, 3, 20)).astype(np.float32)
    metadata = {"wavelength": [repr(float(v)) for v in written], "wavelength units": units}
    envi.save_image(str(tmp_path / "c.hdr"), cube, metadata=metadata, interleave="bsq")
    for path in (tmp_path / "c.hdr", tmp_path / "c.img"):
        data = read_any(path)
        np.testing.assert_array_equal(data.cube, cube)
        np.testing.assert_allclose(data.wavenumbers, expected, rtol=1e-12)


def test_envi_unknown_units_and_missing_axis(tmp_path: Path) -> None:
    envi = pytest.importorskip("spectral.io.envi")
    cube = RNG.random((2, 2, 20)).astype(np.float32)
    metadata = {"wavelength": [str(v) for v in WN], "wavelength units": "GHz"}
    envi.save_image(str(tmp_path / "u.hdr"), cube, metadata=metadata)
    with pytest.raises(FTIRUnmixerError, match=r"u\.hdr: the header's wavelength units 'GHz'"):
        read_any(tmp_path / "u.hdr")
    envi.save_image(str(tmp_path / "n.hdr"), cube)
    with pytest.raises(FTIRUnmixerError, match=r"n\.hdr: has no wavenumber axis; give"):
        read_any(tmp_path / "n.hdr")
    data = read_any(tmp_path / "n.hdr", wavenumbers="3800:900")
    np.testing.assert_allclose(data.wavenumbers, WN)


def test_envi_data_file_without_header(tmp_path: Path) -> None:
    pytest.importorskip("spectral")
    (tmp_path / "x.img").write_bytes(bytes(64))
    with pytest.raises(FTIRUnmixerError, match=r"x\.img: no ENVI header beside it"):
        read_any(tmp_path / "x.img")


# --- MATLAB ---------------------------------------------------------------------------------


def _hysupp(h: int = 4, w: int = 3, b: int = 20, k: int = 2) -> dict[str, object]:
    abundances = RNG.dirichlet(np.ones(k), size=h * w).T  # (K, N)
    endmembers = RNG.random((b, k))
    return {"Y": endmembers @ abundances, "E": endmembers, "A": abundances, "H": h, "W": w}


def test_mat_hysupp_round_trip(tmp_path: Path) -> None:
    values = _hysupp()
    values["labels"] = ["oxalate", "protein"]
    values["wavenumbers"] = WN
    scipy.io.savemat(tmp_path / "scene.mat", values)
    data = read_any(tmp_path / "scene.mat")
    assert data.shape == (4, 3, 20)
    # pixel n is (n // W, n % W), as HySUPP reshapes A to (K, H, W)
    np.testing.assert_allclose(data.cube[2, 1], values["Y"][:, 7], rtol=1e-6)
    np.testing.assert_array_equal(data.wavenumbers, WN)
    gt = data.ground_truth
    assert gt is not None and gt.names == ["oxalate", "protein"]
    np.testing.assert_allclose(gt.endmembers, values["E"], rtol=1e-6)
    np.testing.assert_allclose(gt.abundances[2, 1], values["A"][:, 7], rtol=1e-6)


def test_mat_pixels_by_bands_and_key(tmp_path: Path) -> None:
    values = _hysupp()
    cube = RNG.random((4, 3, 20))
    scipy.io.savemat(
        tmp_path / "t.mat", {"Y": values["Y"].T, "H": 4, "W": 3, "wavelengths": WN, "X": cube}
    )
    data = read_mat(tmp_path / "t.mat")
    np.testing.assert_allclose(data.cube.reshape(12, 20), values["Y"].T, rtol=1e-6)
    assert data.attrs["notes"] == ["took variable 'wavelengths' as wavenumbers in cm⁻¹"]
    np.testing.assert_allclose(read_mat(tmp_path / "t.mat", key="X").cube, cube, rtol=1e-6)
    with pytest.raises(FTIRUnmixerError, match=r"t\.mat: has no variable 'Z' \(variables: H, "):
        read_mat(tmp_path / "t.mat", key="Z")
    scipy.io.savemat(tmp_path / "s.mat", {"Y": "text", "H": 1, "W": 1})
    with pytest.raises(FTIRUnmixerError, match=r"s\.mat: variable 'Y' is not a numeric array"):
        read_mat(tmp_path / "s.mat")


def test_mat_v73_through_h5py(tmp_path: Path) -> None:
    """MATLAB v7.3 files are HDF5 with column-major arrays and uint16 text."""
    values = _hysupp()
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        for key in ("Y", "E", "A"):
            f.create_dataset(key, data=np.asarray(values[key]).T)
        for key in ("H", "W"):
            f.create_dataset(key, data=np.array([[float(values[key])]]))
        f.create_dataset("wn", data=WN[None, :])
        f["labels"] = np.array([[ord(c) for c in "ab"], [ord(c) for c in "cd"]], np.uint16)
        f["labels"].attrs["MATLAB_class"] = np.bytes_("char")
    data = read_any(path)
    assert data.shape == (4, 3, 20)
    np.testing.assert_allclose(data.cube[3, 2], values["Y"][:, 11], rtol=1e-6)
    assert data.ground_truth is not None and data.ground_truth.names == ["ac", "bd"]


# --- NumPy ---------------------------------------------------------------------------------


def test_npz_and_npy_round_trip(tmp_path: Path) -> None:
    cube = RNG.random((4, 3, 20)).astype(np.float32)
    mask = np.ones((4, 3), bool)
    mask[0, 0] = False
    np.savez(tmp_path / "c.npz", cube=cube, wavenumbers=WN, mask=mask)
    data = read_npz(tmp_path / "c.npz")
    np.testing.assert_array_equal(data.cube, cube)
    np.testing.assert_array_equal(data.wavenumbers, WN)
    np.testing.assert_array_equal(data.mask, mask)
    np.save(tmp_path / "c.npy", cube)
    assert read_npy(tmp_path / "c.npy").wavenumbers.size == 0
    np.save(tmp_path / "axis.npy", WN)
    data = read_any(tmp_path / "c.npy", wavenumbers=str(tmp_path / "axis.npy"))
    np.testing.assert_array_equal(data.wavenumbers, WN)


def test_npz_without_cube(tmp_path: Path) -> None:
    np.savez(tmp_path / "c.npz", data=np.zeros((2, 2, 3)))
    with pytest.raises(FTIRUnmixerError, match=r"c\.npz: has no array 'cube' \(arrays: data\)"):
        read_npz(tmp_path / "c.npz")
    assert read_npz(tmp_path / "c.npz", key="data").shape == (2, 2, 3)


def test_load_wavenumbers_specs(tmp_path: Path) -> None:
    np.testing.assert_allclose(load_wavenumbers("3800:900", 20), WN)
    (tmp_path / "axis.txt").write_text("\n".join(map(str, WN)))
    np.testing.assert_allclose(load_wavenumbers(str(tmp_path / "axis.txt"), 20), WN)
    with pytest.raises(FTIRUnmixerError, match=r"--wavenumbers 3800-900: is neither"):
        load_wavenumbers("3800-900", 20)


# --- OPUS binary ----------------------------------------------------------------------------
# brukeropus ships no OPUS files, so these tests write minimal files with the block layout
# that brukeropus parses (header, directory, data-status parameter block, data block).


def _opus_params(items: list[tuple[str, object]]) -> bytes:
    out = b""
    for key, value in items:
        if isinstance(value, int):
            out += key.encode() + b"\0" + struct.pack("<2hi", 0, 2, value)
        elif isinstance(value, float):
            out += key.encode() + b"\0" + struct.pack("<2hd", 1, 4, value)
        else:
            raw = str(value).encode() + b"\0\0"
            out += key.encode() + b"\0" + struct.pack("<2h", 2, len(raw) // 2) + raw
    return out + b"END\0" + struct.pack("<2h", 0, 0)


def write_opus(path: Path, wn: np.ndarray, spectra: np.ndarray, code: int = 4) -> None:
    """Write spectra ``(N, B)`` as an OPUS file; ``code`` 4 = absorbance, 5 = transmittance."""
    constants = pytest.importorskip("brukeropus.file.constants")
    spectra = np.atleast_2d(np.asarray(spectra, "<f4"))
    series = spectra.shape[0] > 1
    status = _opus_params(
        [
            ("DPF", 1),
            ("NPT", wn.size),
            ("FXV", float(wn[0])),
            ("LXV", float(wn[-1])),
            ("CSF", 1.0),
            ("DXU", "WN"),
        ]
    )
    if series:
        info_format = "<" + "".join(e["fmt"] for e in constants.STRUCT_3D_INFO_BLOCK)
        info = bytes(struct.calcsize(info_format))
        head = struct.pack("<8i", 0, len(spectra), 32, spectra.shape[1] * 4, len(info), 1, 1, 0)
        data = head + b"".join(row.tobytes() + info for row in spectra)
    else:
        data = spectra[0].tobytes()
    kind = 2 if series else 0
    blocks = [((0, 0, 1, code, 0, kind), status), ((0, 0, 0, code, 0, kind), data)]
    count = len(blocks) + 1
    entries, body = [((0, 0, 0, 13, 0, 0), count * 3, 24)], b""
    for block_type, block in blocks:
        block += bytes(-len(block) % 4)
        entries.append((block_type, len(block) // 4, 24 + 12 * count + len(body)))
        body += block
    directory = b"".join(
        struct.pack("<3i", t[0] | t[1] << 2 | t[2] << 4 | t[3] << 10 | t[5] << 19, size, start)
        for t, size, start in entries
    )
    header = b"\n\n\xfe\xfe" + struct.pack("<d3i", 920622.0, 24, count, count)
    path.write_bytes(header + directory + body)


def test_opus_single_spectrum_and_map(tmp_path: Path) -> None:
    spectra = RNG.random((6, 20)).astype(np.float32)
    write_opus(tmp_path / "one.0", WN, spectra[:1])
    one = read_any(tmp_path / "one.0")
    assert one.shape == (1, 1, 20)
    np.testing.assert_array_equal(one.cube[0, 0], spectra[0])
    np.testing.assert_allclose(one.wavenumbers, WN)
    write_opus(tmp_path / "map.1", WN, spectra)
    data = read_any(tmp_path / "map.1", rows=2)
    assert data.shape == (2, 3, 20) and data.attrs["units"] == "absorbance"
    np.testing.assert_array_equal(data.cube[1, 0], spectra[3])


def test_opus_without_absorbance_or_signature(tmp_path: Path) -> None:
    write_opus(tmp_path / "t.0", WN, RNG.random((1, 20)), code=5)
    with pytest.raises(FTIRUnmixerError, match=r"t\.0: holds no absorbance spectra \(data blocks"):
        read_any(tmp_path / "t.0")
    (tmp_path / "fake.0").write_bytes(b"not an OPUS file")
    pytest.importorskip("brukeropus")
    with pytest.raises(FTIRUnmixerError, match=r"fake\.0: is not an OPUS file"):
        read_any(tmp_path / "fake.0")


# --- dispatch, optional imports, validation -------------------------------------------------


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format("scan.0") == "opus"
    assert detect_format("scan.1001") == "opus"
    assert detect_format("A.DPT") == "dpt"
    (tmp_path / "e.dat").touch()
    assert detect_format(tmp_path / "e.dat") == "agilent"
    (tmp_path / "e.hdr").touch()
    assert detect_format(tmp_path / "e.dat") == "envi"
    with pytest.raises(FTIRUnmixerError, match=r"x\.xyz: unknown file type '\.xyz'; .*--format"):
        detect_format("x.xyz")


def test_missing_optional_package_names_the_extra() -> None:
    with pytest.raises(FTIRUnmixerError, match=r"needs the 'nopkg' package; .*ftir-unmixer\[io\]"):
        import_optional("no_such_module_here", "nopkg", "f.xyz")


def _data(cube: np.ndarray) -> HyperspectralData:
    return HyperspectralData(
        cube=cube, wavenumbers=WN.copy(), mask=np.ones(cube.shape[:2], bool), path=Path("c.npz")
    )


def test_validate_masks_and_fills_nan_pixels() -> None:
    cube = RNG.random((4, 3, 20)).astype(np.float32)
    cube[0, 0, 5] = np.nan
    cube[3, 2, :] = np.inf
    with pytest.warns(InputWarning, match=r"c\.npz: 2 of 12 pixels contain NaN or Inf"):
        data = validate_input(_data(cube))
    assert not data.mask[0, 0] and not data.mask[3, 2] and data.mask.sum() == 10
    assert np.all(np.isfinite(data.cube))
    median = np.median(cube[data.mask], axis=0)
    assert data.cube[0, 0, 5] == median[5] and data.cube[0, 0, 4] == cube[0, 0, 4]


def test_validate_constant_band_without_division_by_zero() -> None:
    cube = RNG.random((4, 3, 20)).astype(np.float32)
    cube[..., 2] = 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="raise"):
            validate_input(_data(cube))
    assert [str(w.message) for w in caught] == [
        "c.npz: 1 of 20 bands have the same value in every valid pixel (first at "
        "3494.74 cm⁻¹); they carry no information, so check the export or exclude them "
        "with loss.band_weights.bad_windows."
    ]
