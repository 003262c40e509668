"""What a video file is (``probe``) and what each platform accepts (``rules``, ``validate``).

This package depends on nothing else of multipublish but ``errors``, ``catalogue`` and
``captions``: never on the publishing code.
"""

from __future__ import annotations

from multipublish.media.probe import MediaInfo, probe
from multipublish.media.rules import PlatformRules, RuleSet, load_rules
from multipublish.media.validate import validate_config_for_platforms, validate_video_for_platforms

__all__ = [
    "MediaInfo",
    "PlatformRules",
    "RuleSet",
    "load_rules",
    "probe",
    "validate_config_for_platforms",
    "validate_video_for_platforms",
]
