"""Every api process imports the app at start-up; what it imports there is paid by each start
(tests start dozens). ``scipy.stats`` alone took over a second, for Sobol points that a study
draws only when it samples, so it is imported where it is used."""

from __future__ import annotations

import subprocess
import sys

from tests.services import ROOT


def test_the_app_starts_without_scipy_stats() -> None:
    code = (
        "import sys, api.main; print(sorted(m for m in sys.modules if m.startswith('scipy.stats')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_sobol_points_still_draw() -> None:
    import numpy as np

    from api.search.region_samplers import _sobol

    pts = _sobol(3, np.random.default_rng(0)).random(8)
    assert pts.shape == (8, 3) and ((pts >= 0) & (pts < 1)).all()
