"""The interactive explorer of a run: one offline HTML file, click a pixel to see its spectrum.

:mod:`~ftir_unmixer.explorer.run_data` reads a run and its measured cube,
:mod:`~ftir_unmixer.explorer.encoding` packs the arrays (quantised spectra),
:mod:`~ftir_unmixer.explorer.figures` builds the Plotly figures and
:mod:`~ftir_unmixer.explorer.page` writes the page (``explorer.js`` is its logic).
"""
