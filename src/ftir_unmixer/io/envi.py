"""ENVI images (``name.hdr`` plus a raw data file) through ``spectral``.

The axis comes from the header's ``wavelength`` field. Values in cm⁻¹ are kept; values in
µm or nm are converted to cm⁻¹ (10⁴/λ, 10⁷/λ) with a note, in the file's band order. A
header without ``wavelength units`` is taken as cm⁻¹, which is what FTIR software writes,
with a note. A header without ``wavelength`` (or with units ``Index``) gives no axis, so
``--wavenumbers`` must supply it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import HyperspectralData
from ftir_unmixer.io.reader_helpers import PathLike, import_optional, library_errors, make_data

_WAVENUMBER_UNITS = {"wavenumber", "wavenumbers", "cm-1", "cm^-1", "1/cm", "cm⁻¹"}
#: Factor f such that wavenumber [cm⁻¹] = f / wavelength.
_WAVELENGTH_UNITS = {
    "micrometers": 1e4,
    "micrometer": 1e4,
    "microns": 1e4,
    "micron": 1e4,
    "um": 1e4,
    "µm": 1e4,
    "nanometers": 1e7,
    "nanometer": 1e7,
    "nm": 1e7,
}
_UNSPECIFIED_UNITS = {"", "unknown", "<unspecified>"}


def _header_and_data(path: Path) -> tuple[Path, Path | None]:
    """Return the header and, if ``path`` is the data file, the data file."""
    if path.suffix.lower() == ".hdr":
        return path, None
    for header in (path.with_suffix(".hdr"), path.with_name(path.name + ".hdr")):
        if header.is_file():
            return header, path
    raise FTIRUnmixerError(
        f"{path}: no ENVI header beside it (looked for {path.with_suffix('.hdr').name}); keep "
        "the .hdr file next to the data file."
    )


def _axis(
    centers: list[float] | None, unit: str | None, path: Path
) -> tuple[np.ndarray, str | None]:
    """Convert the header's band centres to cm⁻¹; return the axis and a note."""
    name = (unit or "").strip().lower()
    if not centers or name == "index":
        return np.empty(0), None
    values = np.asarray(centers, dtype=np.float64)
    if name in _WAVENUMBER_UNITS:
        return values, None
    if name in _UNSPECIFIED_UNITS:
        return values, "the header gives no wavelength units; took the values as cm⁻¹"
    if name in _WAVELENGTH_UNITS:
        if np.any(values <= 0):
            raise FTIRUnmixerError(
                f"{path}: the header's wavelengths in {unit} include values ≤ 0, which have no "
                "wavenumber; fix the 'wavelength' field."
            )
        return _WAVELENGTH_UNITS[name] / values, f"converted the wavelengths from {unit} to cm⁻¹"
    raise FTIRUnmixerError(
        f"{path}: the header's wavelength units '{unit}' are not cm⁻¹, µm or nm; set "
        "'wavelength units' in the header to cm-1, micrometers or nanometers."
    )


def read_envi(path: PathLike) -> HyperspectralData:
    """Read an ENVI image.

    Args:
        path: the ``.hdr`` header or the data file next to it.

    Returns:
        The ``(lines, samples, bands)`` cube as one tile, with the header's axis in cm⁻¹
        (empty if the header has none).

    Raises:
        FTIRUnmixerError: if ``spectral`` is missing, the header or data file is missing or
            unreadable, the file is a spectral library, or the units are unknown.

    """
    path = Path(path)
    envi = import_optional("spectral.io.envi", "spectral", path)
    header, data_file = _header_and_data(path)
    with library_errors(path, "envi"):
        image = envi.open(str(header), None if data_file is None else str(data_file))
        if isinstance(image, envi.SpectralLibrary):
            raise FTIRUnmixerError(
                f"{path}: is an ENVI spectral library, not an image; give the header of a "
                "hyperspectral image."
            )
        cube = np.asarray(image.load(), dtype=np.float32)
    wavenumbers, note = _axis(image.bands.centers, image.bands.band_unit, path)
    return make_data(cube, wavenumbers, path, "envi", notes=[note] if note else [])
