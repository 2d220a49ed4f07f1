"""``ftir-unmixer report``: a sweep's jobs in one table, with the paper's comparison figures.

:mod:`~ftir_unmixer.sweep_report.jobs` finds and reads the jobs of a multirun directory,
:mod:`~ftir_unmixer.sweep_report.tables` writes CSV and Markdown tables,
:mod:`~ftir_unmixer.sweep_report.figures` draws the SAD-vs-WSAD and K-selection figures,
:mod:`~ftir_unmixer.sweep_report.input_cubes` reads the input cubes the K evidence needs, and
:mod:`~ftir_unmixer.sweep_report.writer` assembles the report. README "Report" lists the files.
"""
