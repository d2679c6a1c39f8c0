"""The search: pure functions of a study's state, no database access.

- ``base``: the strategy contract (``BaseStrategy.suggest``, ``SearchState``, ``RegionView``).
- ``transforms`` / ``encoding``: real ↔ unit maps per scale; a matrix view of a space.
- ``random_sampler``, ``grid_sampler``, ``coarse_to_fine``: the strategies.
- ``regions``: how coarse-to-fine derives a region; ``region_samplers`` and
  ``gaussian_process``: how points are drawn inside one.
- ``pruners``: early stopping (median, ASHA).
- ``registry``: ``make_strategy`` and ``make_pruner`` from ``caviar.search_config`` options.
"""
