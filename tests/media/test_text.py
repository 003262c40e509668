"""Text limits, counted in each platform's unit, and the coverage of the whole rules table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from multipublish.media import load_rules, validate_config_for_platforms, validate_video_for_platforms
from multipublish.media.rules import BUILTIN_RULES, PlatformRules
from multipublish.media.validate import text_length, youtube_tags_length
from multipublish.platforms.base import PublishConfig
from tests.media.test_rules_media import CASES

EMOJI = "\U0001f600"  # one character, two UTF-16 code units, four UTF-8 bytes


def verdict(config: PublishConfig, key: str, rules: Any = None) -> dict[str, Any]:
    return validate_config_for_platforms(config, [key], rules)[key]


def test_units() -> None:
    assert text_length(EMOJI, "chars") == 1
    assert text_length(EMOJI, "utf16") == 2
    assert text_length(EMOJI, "utf8") == 4
    assert text_length("é", "utf8") == 2
    assert youtube_tags_length(["a", "b c"]) == 1 + 1 + 5


# (rule, platform, config that crosses it, config just inside it, fragment)
TEXT_CASES: list[tuple[str, str, PublishConfig, PublishConfig, str]] = [
    # TikTok counts UTF-16 units: 1,101 emoji are 1,101 characters but 2,202 units.
    (
        "description_max_length",
        "tiktok",
        PublishConfig(description=EMOJI * 1101),
        PublishConfig(description=EMOJI * 1100),
        "2202 UTF-16 code units, over the limit of 2200",
    ),
    # Instagram counts characters: 2,200 emoji fit.
    (
        "description_max_length",
        "instagram",
        PublishConfig(description="a" * 2201),
        PublishConfig(description=EMOJI * 2200),
        "2201 characters, over the limit of 2200",
    ),
    # YouTube counts UTF-8 bytes: 2,501 "é" are 5,002 bytes.
    (
        "description_max_length",
        "youtube",
        PublishConfig(title="t", description="é" * 2501),
        PublishConfig(title="t", description="é" * 2500),
        "5002 bytes (UTF-8), over the limit of 5000",
    ),
    (
        "description_max_length",
        "linkedin",
        PublishConfig(description="a" * 3001),
        PublishConfig(description="a" * 3000),
        "description: 3001 characters",
    ),
    # LinkedIn posts the commentary option when given, instead of the description.
    (
        "description_max_length",
        "linkedin",
        PublishConfig(description="short", platform_specific={"linkedin": {"commentary": "a" * 3001}}),
        PublishConfig(description="a" * 4000, platform_specific={"linkedin": {"commentary": "ok"}}),
        "commentary: 3001 characters",
    ),
    (
        "description_forbidden_chars",
        "youtube",
        PublishConfig(title="t", description="a > b"),
        PublishConfig(title="t", description="a - b"),
        "description: contains '>'",
    ),
    (
        "title_max_length",
        "youtube:shorts",
        PublishConfig(title="a" * 101),
        PublishConfig(title=EMOJI * 100),
        "title: 101 characters, over the limit of 100",
    ),
    (
        "title_forbidden_chars",
        "youtube",
        PublishConfig(title="<b>hi"),
        PublishConfig(title="hi"),
        "title: contains '<' '>'",
    ),
    ("title_required", "youtube", PublishConfig(title="  "), PublishConfig(title="x"), "title is required"),
    # 51 tags of 9 characters and 50 commas: 509 > 500; 50 of them: 499.
    (
        "tags_max_total_length",
        "youtube",
        PublishConfig(title="t", tags=[f"tag{i:06d}" for i in range(51)]),
        PublishConfig(title="t", tags=[f"tag{i:06d}" for i in range(50)]),
        "tags: 509 characters in all, over the limit of 500",
    ),
    (
        "max_hashtags",
        "instagram:feed",
        PublishConfig(description=" ".join(f"#h{i}" for i in range(31))),
        PublishConfig(description=" ".join(f"#h{i}" for i in range(30))),
        "31 hashtags",
    ),
    (
        "max_mentions",
        "instagram",
        PublishConfig(description=" ".join(f"@user{i}" for i in range(21))),
        PublishConfig(description=" ".join(f"@user{i}" for i in range(20)) + " me@example.com"),
        "21 @mentions, over the limit of 20",
    ),
]


def test_tags_beyond_the_hashtag_count_are_left_out_with_a_warning() -> None:
    # Tags become hashtags too: 29 in the caption plus 2 tags would be 31; the tag over is left out
    # (named), the text's own hashtags are never cut.
    over = verdict(PublishConfig(description=" ".join(f"#h{i}" for i in range(29)), tags=["x", "y"]),
                   "instagram:stories")
    assert over["valid"] is True and over["errors"] == []
    [warning] = over["warnings"]
    assert warning.startswith("1 tag(s) left out of the instagram caption") and warning.endswith(": #y")
    inside = PublishConfig(description=" ".join(f"#h{i}" for i in range(29)), tags=["x", "H1"])
    assert verdict(inside, "instagram:stories") == {"valid": True, "errors": [], "warnings": []}


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_text_rule_is_crossed(case: tuple[str, str, PublishConfig, PublishConfig, str]) -> None:
    _, platform, over, inside, fragment = case
    entry = verdict(over, platform)
    assert entry["valid"] is False
    assert any(fragment in m for m in entry["errors"]), entry
    assert verdict(inside, platform) == {"valid": True, "errors": [], "warnings": []}


def test_max_tags_from_a_rules_file(tmp_path: Path) -> None:
    # No built-in platform limits the tag count; a rules file can.
    path = tmp_path / "rules.json"
    path.write_text('{"youtube": {"max_tags": 2}}')
    rules = load_rules(path)
    config = PublishConfig(title="t", tags=["a", "b", "c"])
    assert verdict(config, "youtube", rules)["errors"] == ["tags: 3 tags, over the limit of 2"]
    assert verdict(PublishConfig(title="t", tags=["a", "b"]), "youtube", rules)["valid"] is True
    assert verdict(config, "youtube")["valid"] is True


def test_config_report_for_many_platforms() -> None:
    config = PublishConfig(title="", description=EMOJI * 1101)
    report = validate_config_for_platforms(config, ["tiktok", "instagram", "youtube", "vine"])
    assert report["tiktok"]["valid"] is False
    assert report["instagram"]["valid"] is True
    assert report["youtube"]["errors"] == ["title is required"]
    assert "unknown platform 'vine'" in report["vine"]["errors"][0]


def test_video_validation_includes_the_text(vertical_video: Path) -> None:
    config = PublishConfig(title="a" * 101, description="fine")
    report = validate_video_for_platforms(vertical_video, ["youtube", "tiktok"], config=config)
    assert report["youtube"]["errors"] == ["title: 101 characters, over the limit of 100"]
    assert report["youtube"]["media"]["width"] == 1080
    assert report["tiktok"]["valid"] is True


# -- every rule of the table is crossed by some test -------------------------------------------

#: Rules crossed in test_rules_media.py by dedicated tests rather than CASES.
OTHER_MEDIA_TESTS = {
    "max_duration",
    "unverified_max_duration",
    "max_size",
    "max_bitrate",
    "forbid_edit_lists",
    "aspect_ratios",  # test_validate.py: GEOMETRY
    "aspect_tolerance",  # 21:9 clips are 2560x1080 (2.37), accepted as 21:9 (2.33)
}
#: Settings of a rule rather than limits (the unit is crossed with its limit; soft in CASES).
NOT_LIMITS = {"key", "title_unit", "description_unit", "soft"}


def test_every_rule_in_the_table_has_a_crossing_test() -> None:
    used = {field for values in BUILTIN_RULES.values() for field in values}
    default = PlatformRules(key="x")
    used |= {
        f
        for rule in load_rules().values()
        for f in PlatformRules.__dataclass_fields__
        if getattr(rule, f) != getattr(default, f)
    }
    covered = {c[0] for c in CASES} | {c[0] for c in TEXT_CASES} | OTHER_MEDIA_TESTS
    assert used - NOT_LIMITS - covered == set()
