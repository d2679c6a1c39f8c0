"""The search: pure functions of a study's state, no database access.

- ``base``: the strategy contract (``BaseStrategy.suggest``, ``SearchState``, ``RegionView``).
- ``transforms`` / ``encoding``: real ↔ unit maps per scale; a matrix view of a space.
- ``random_search``, ``grid``, ``coarse_to_fine``: the strategies (``<Name>Strategy``).
- ``regions``: how coarse-to-fine derives a region; ``region_samplers`` and
  ``gaussian_process``: how points are drawn inside one.
- ``pruners``: early stopping (median, ASHA).
- ``registry``: ``make_strategy`` and ``make_pruner`` from ``caviar.search_config`` options.
"""
