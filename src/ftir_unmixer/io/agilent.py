"""Agilent (Resolutions Pro) FPA images through ``agilent-format``.

A single tile is ``name.dat`` (spectra) with ``name.bsp`` (parameters) beside it; ``name.seq``
holds the interferograms of the same tile, so giving it reads the ``.dat`` spectra next to
it. A mosaic is ``name.dmt`` (or ``name.dms``) with one ``name_XXXX_YYYY.dmd`` file per FPA
tile; each row of FPA tiles becomes one tile of the input file, and tiles missing from the
mosaic come back as NaN (masked on conversion). Images are in image orientation (row 0 at
the top), the axis is ascending as Agilent stores it.
"""

from __future__ import annotations

from pathlib import Path

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import HyperspectralData
from ftir_unmixer.io.reader_helpers import PathLike, import_optional, library_errors, make_data

MOSAIC_SUFFIXES = (".dmt", ".dms")


def read_agilent(path: PathLike) -> HyperspectralData:
    """Read an Agilent FPA tile (``.dat``/``.seq``) or mosaic (``.dmt``/``.dms``).

    Args:
        path: the tile or mosaic file.

    Returns:
        The ``(H, W, B)`` cube; a mosaic is split into its rows of FPA tiles.

    Raises:
        FTIRUnmixerError: if ``agilent-format`` is missing, a companion file is missing, or
            the files cannot be parsed.

    """
    agilent = import_optional("agilent_format", "agilent-format", path)
    path = Path(path)
    mosaic = path.suffix.lower() in MOSAIC_SUFFIXES
    with library_errors(path, "agilent"):
        try:
            if mosaic:
                image = agilent.agilentMosaic(path, MAT=True)
            else:
                image = agilent.agilentImage(path, MAT=True)
        except FileNotFoundError as exc:
            raise FTIRUnmixerError(
                f"{path}: a companion file is missing ({exc}); keep the instrument's files "
                "(.bsp for a tile, .dmt and .dmd for a mosaic) together in one folder."
            ) from None
    notes = []
    if path.suffix.lower() == ".seq":
        notes.append(f"read the spectra of {path.with_suffix('.dat').name}")
    tile_rows = None
    if mosaic:
        side = image.info["fpasize"]
        tile_rows = [side] * (image.data.shape[0] // side)
    return make_data(
        image.data, image.wavenumbers, path, "agilent", tile_rows=tile_rows, notes=notes
    )
