"""Subcommands of the ``ftir-unmixer`` command.

Every module here defines ``NAME`` (the subcommand), ``HELP`` (one line),
``register(parser)`` (adds its arguments to an ``argparse`` sub-parser) and
``run(args) -> int``; private modules (a leading underscore) hold what several subcommands
share and are not subcommands. Modules import only the standard library at top level, so
``ftir-unmixer --help`` stays fast; heavy imports live inside ``run``.
"""
