"""Text tables: OPUS "data point table" exports (``.dpt``), ``.csv`` and ``.txt``.

A table has one row per band: the first column is the wavenumber axis (ascending or
descending, kept as is), every further column is one spectrum. The separator (tab,
semicolon, comma or whitespace) is detected from the first row of numbers; a decimal comma
is accepted with tab, semicolon or whitespace separators. Line endings may be CRLF, LF or
CR, leading text lines (headers) are skipped and blank lines are ignored.

A map's spectra are laid out row-major: column ``j + 1`` is pixel ``(j // cols, j % cols)``,
as in the authors' reshape of their export. A two-column file is one spectrum (a reference
spectrum, read with :func:`read_spectrum_table`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import HyperspectralData, check_wavenumbers
from ftir_unmixer.io.reader_helpers import PathLike, make_data, map_geometry, spectra_to_cube

_SEPARATORS = ("\t", ";", ",")


def _separator(line: str) -> str | None:
    """Return the separator a row uses: tab, semicolon or comma, else None (whitespace)."""
    return next((sep for sep in _SEPARATORS if sep in line), None)


def _cells(line: str, sep: str | None) -> list[str]:
    """Split a row into cells, ignoring surrounding blanks and trailing separators."""
    line = line.strip()
    if sep is None:
        return line.split()
    return [cell.strip() for cell in line.rstrip(sep).split(sep)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_bad_row(path: Path, rows: list[tuple[int, str]], sep: str | None) -> str | None:
    """Describe the first ragged row or non-numeric cell, or return None if there is none."""
    first_line, first = rows[0]
    width = len(_cells(first, sep))
    for line_no, line in rows:
        cells = _cells(line, sep)
        if len(cells) != width:
            return (
                f"{path}: line {line_no} has {len(cells)} values but line {first_line} has "
                f"{width}; the file is truncated or ragged, export it again."
            )
        for column, cell in enumerate(cells, start=1):
            if not _is_number(cell):
                return (
                    f"{path}: line {line_no}, column {column} holds '{cell[:30]}', which is "
                    "not a number; remove the text from the data rows or export it again."
                )
    return None


def read_table(path: PathLike) -> np.ndarray:
    """Read a text table of numbers.

    Args:
        path: the text file.

    Returns:
        ``(rows, columns)`` float64 array of the numeric rows, header lines removed.

    Raises:
        FTIRUnmixerError: if the file cannot be read, is binary or empty, has no numeric
            row, or has a ragged row or a non-numeric cell (named by line number).

    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FTIRUnmixerError(
            f"{path}: cannot be read ({exc.strerror}); check the path and its permissions."
        ) from None
    if b"\x00" in raw[:4096]:
        raise FTIRUnmixerError(
            f"{path}: is a binary file, not a text table; export a data point table or name "
            "the file's real format with --format."
        )
    lines = raw.decode("utf-8-sig", errors="replace").splitlines()
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise FTIRUnmixerError(f"{path}: is empty; export the data point table again.")
    start = 0
    while start < len(numbered) and not _is_number(
        _cells(numbered[start][1], _separator(numbered[start][1]))[0]
    ):
        start += 1
    if start == len(numbered):
        raise FTIRUnmixerError(
            f"{path}: has no row of numbers (all {len(numbered)} lines are text); give a "
            "table with the wavenumber in the first column."
        )
    rows = numbered[start:]
    sep = _separator(rows[0][1])
    body = [line.strip() if sep is None else line.strip().rstrip(sep) for _, line in rows]
    if sep != "," and "," in body[0]:
        body = [line.replace(",", ".") for line in body]
    try:
        return np.loadtxt(body, delimiter=sep, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        numbered_body = [(n, line) for (n, _), line in zip(rows, body, strict=True)]
        message = _first_bad_row(path, numbered_body, sep) or (
            f"{path}: cannot be read as a table of numbers ({exc}); export it again."
        )
        raise FTIRUnmixerError(message) from None


def read_spectrum_table(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one spectrum from a two-column text file (wavenumber, value).

    Args:
        path: a ``.dpt``/``.csv``/``.txt`` file with two columns, e.g. a reference spectrum.

    Returns:
        ``(wavenumbers, values)``, both float64 in the file's order.

    Raises:
        FTIRUnmixerError: if the file is not a readable two-column table or its axis is not
            strictly monotonic.

    """
    table = read_table(path)
    if table.shape[1] != 2:
        raise FTIRUnmixerError(
            f"{path}: has {table.shape[1]} columns; a spectrum file must have two "
            "(wavenumber, value)."
        )
    wavenumbers = check_wavenumbers(table[:, 0], table.shape[0], str(path))
    return wavenumbers, table[:, 1].copy()


def read_dpt(
    path: PathLike, *, rows: int | None = None, cols: int | None = None
) -> HyperspectralData:
    """Read a map exported as a data point table, one spectrum per column.

    Args:
        path: the text file.
        rows: map height; with ``cols``, or inferred from the spectrum count.
        cols: map width; without either, a square map is assumed.

    Returns:
        The ``(rows, cols, B)`` cube as one tile, with the file's axis.

    Raises:
        FTIRUnmixerError: if the table is malformed, has no spectrum column, or does not
            hold ``rows × cols`` spectra.

    """
    table = read_table(path)
    if table.shape[1] < 2:
        raise FTIRUnmixerError(
            f"{path}: has a single column; a data point table needs the wavenumber column "
            "and one column per spectrum."
        )
    height, width, note = map_geometry(table.shape[1] - 1, rows, cols, path)
    cube = spectra_to_cube(table[:, 1:], height, width)
    return make_data(cube, table[:, 0], path, "dpt", notes=[note] if note else [])
