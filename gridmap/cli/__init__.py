"""The ``gridmap`` command line: one module per command, the study arguments they share.

``main`` (the console entry point) and ``build_parser`` live in :mod:`gridmap.cli.main`;
each command registers its sub-parser from its own module (``coverage``, ``rebalance``,
``report``, ``serve``); :mod:`gridmap.cli.study_args` holds the inputs every study command reads.
"""

from gridmap.cli.main import build_parser, main, render_summary

__all__ = ["build_parser", "main", "render_summary"]
