"""Media preparation: make a video fit each platform with the least change (issue 13).

``plan`` decides (from the probe and the rules only), ``encode`` writes with PyAV in a worker
process, ``renditions`` names, stores and prunes the results, ``run`` ties them together.
Depends on ``media.probe`` and ``media.rules`` only, never on publishing code.
"""

from __future__ import annotations

from multipublish.media.prepare.plan import FITS, Plan, Target, plan_for
from multipublish.media.prepare.renditions import PruneLimits, default_dir
from multipublish.media.prepare.run import plan_errors, prepare_video_for_platforms

__all__ = [
    "FITS",
    "Plan",
    "PruneLimits",
    "Target",
    "default_dir",
    "plan_errors",
    "plan_for",
    "prepare_video_for_platforms",
]
