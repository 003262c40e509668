"""Overriding and extending the rules from a JSON, TOML or YAML file; clear errors when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from multipublish.errors import ConfigurationError
from multipublish.media import load_rules, validate_video_for_platforms
from tests.fixtures.videos import VideoFactory

MB = 1024 * 1024


def test_builtin_table_has_every_platform_and_post_type() -> None:
    assert set(load_rules()) == {
        "tiktok:video",
        "instagram:reels",
        "instagram:stories",
        "instagram:feed",
        "facebook:video",
        "facebook:reels",
        "facebook:stories",
        "linkedin:video",
        "youtube:video",
        "youtube:shorts",
    }
    assert load_rules().for_platform("instagram").key == "instagram:reels"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("r.json", '{"instagram": {"max_size": "1GB"}, "instagram:reels": {"max_duration": 900}}'),
        ("r.toml", '[instagram]\nmax_size = "1GB"\n["instagram:reels"]\nmax_duration = 900\n'),
        ("r.yaml", "instagram:\n  max_size: 1GB\ninstagram:reels:\n  max_duration: 900\n"),
    ],
)
def test_override_in_each_format(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    rules = load_rules(path)
    assert rules.source == str(path)
    # The bare platform reaches all its post types; the post-type key wins for its own.
    assert {rules[k].max_size for k in ("instagram:reels", "instagram:stories", "instagram:feed")} == {
        1024 * MB
    }
    assert rules["instagram:reels"].max_duration == 900
    assert rules["instagram:stories"].max_duration == 60
    # Untouched values stay.
    assert rules["instagram:reels"].containers == ("mp4", "mov")
    assert load_rules()["instagram:reels"].max_duration == 90


def test_extend_and_relax_a_rule(tmp_path: Path, tiny: VideoFactory) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "[tiktok]\nsoft = []\n"  # TikTok's uncertain 3 s minimum becomes an error
        '[linkedin]\ncontainers = ["mp4", "mov"]\naspect_range = ["1:2.4", "2.4:1"]\n'
        "aspect_ratios = []\n"
    )
    rules = load_rules(path)
    clip = tiny("mov", width=144, height=180)
    report = validate_video_for_platforms(clip, ["tiktok", "linkedin"], rules)
    assert any("under the 3 s minimum" in m for m in report["tiktok"]["errors"])
    assert not any("container" in m or "aspect" in m for m in report["linkedin"]["errors"])
    builtin = validate_video_for_platforms(clip, ["tiktok", "linkedin"])
    assert not any("3 s minimum" in m for m in builtin["tiktok"]["errors"])
    assert any("container MOV" in m for m in builtin["linkedin"]["errors"])


def test_values_with_units(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(
        '{"instagram:feed": {"max_bitrate": "8Mbps", "min_resolution": "540x960",'
        ' "max_size": 5000, "title_unit": "utf16"}}'
    )
    rule = load_rules(path)["instagram:feed"]
    assert rule.max_bitrate == 8_000_000
    assert rule.min_resolution == (540, 960)
    assert rule.max_size == 5000
    assert rule.title_unit == "utf16"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("r.json", '{"myspace": {"max_size": 1}}', "myspace: unknown platform"),
        ("r.json", '{"instagram:igtv": {"max_size": 1}}', "instagram:igtv: unknown post type"),
        ("r.json", '{"tiktok": {"max_lenght": 1}}', "tiktok.max_lenght: unknown rule"),
        ("r.json", '{"tiktok": {"max_duration": "long"}}', "tiktok.max_duration: expected a number"),
        ("r.json", '{"tiktok": {"max_size": "lots"}}', "tiktok.max_size: expected a number or"),
        ("r.json", '{"tiktok": {"max_duration": -1}}', "tiktok.max_duration: must not be negative"),
        ("r.json", '{"tiktok": {"containers": "mp4"}}', "tiktok.containers: expected a list"),
        ("r.json", '{"tiktok": {"aspect_ratios": ["tall"]}}', "tiktok.aspect_ratios: 'tall'"),
        ("r.json", '{"tiktok": {"min_resolution": "big"}}', "tiktok.min_resolution: expected a"),
        ("r.json", '{"tiktok": {"title_unit": "words"}}', "tiktok.title_unit: expected one of"),
        ("r.json", '{"tiktok": {"soft": ["max_lenght"]}}', "tiktok.soft: unknown rule name"),
        ("r.json", '{"tiktok": {"require_moov_first": "yes"}}', "expected true or false"),
        ("r.json", '{"tiktok": 5}', "tiktok: expected a table of rules"),
        ("r.json", "[1, 2]", "expected a table of platform keys"),
        ("r.json", '{"tiktok": {', "not valid json"),
        ("r.toml", "[tiktok\n", "not valid toml"),
        ("r.yaml", "tiktok: [\n", "not valid yaml"),
        ("r.ini", "[tiktok]\n", "unknown format"),
    ],
)
def test_bad_rules_file_names_the_key(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_rules(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="file not found"):
        load_rules(tmp_path / "nope.toml")
