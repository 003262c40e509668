"""``multipublish validate`` on real files: verdicts, exit status 0/1/2 and the JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from multipublish.cli import app
from tests.fixtures.videos import VideoFactory

runner = CliRunner()


def test_valid_file_exits_zero_and_prints_a_table(vertical_video: Path) -> None:
    result = runner.invoke(app, ["validate", str(vertical_video), "--platforms", "tiktok,youtube"])
    assert result.exit_code == 0, result.output
    assert "tiktok" in result.output and "youtube" in result.output
    assert "valid" in result.output and "invalid" not in result.output
    assert "1080x1920" in result.output


def test_json_is_keyed_by_file_then_platform(vertical_video: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    result = runner.invoke(
        app,
        ["validate", str(vertical_video), str(missing), "-p", "tiktok,instagram:stories", "--json"],
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert list(data) == [str(vertical_video), str(missing)]
    good = data[str(vertical_video)]
    assert list(good) == ["tiktok", "instagram:stories"]
    assert set(good["tiktok"]) == {"valid", "errors", "warnings", "media"}
    assert good["tiktok"]["valid"] is True
    assert good["tiktok"]["media"]["height"] == 1920
    bad = data[str(missing)]["tiktok"]
    assert bad == {
        "valid": False,
        "errors": [f"{missing}: file not found"],
        "warnings": [],
        "media": {},
    }


def test_invalid_verdict_exits_one(tiny: VideoFactory) -> None:
    result = runner.invoke(app, ["validate", str(tiny("webm")), "-p", "instagram", "--json"])
    assert result.exit_code == 1
    errors = json.loads(result.stdout)[str(tiny("webm"))]["instagram"]["errors"]
    assert "container WEBM is not accepted (accepted: MP4, MOV)" in errors


def test_bad_files_are_reported_and_others_still_checked(vertical_video: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("hello\n")
    result = runner.invoke(
        app, ["validate", str(text), str(tmp_path), str(vertical_video), "-p", "tiktok,myspace"]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "not a video file" in result.output
    assert "is a directory" in result.output
    assert "unknown platform 'myspace'" in result.output
    assert str(vertical_video.name) in result.output


def test_text_options_are_checked(vertical_video: Path) -> None:
    result = runner.invoke(
        app, ["validate", str(vertical_video), "-p", "youtube", "--title", "<b>", "--json"]
    )
    assert result.exit_code == 1
    entry = json.loads(result.stdout)[str(vertical_video)]["youtube"]
    assert entry["errors"] == ["title: contains '<' '>', which is not allowed"]


def test_rules_option_and_bad_rules_file(vertical_video: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('{"tiktok": {"max_duration": 1}}')
    strict = runner.invoke(app, ["validate", str(vertical_video), "-p", "tiktok", "--rules", str(rules)])
    assert strict.exit_code == 1
    rules.write_text('{"tiktok": {"max_duration": "soon"}}')
    bad = runner.invoke(app, ["validate", str(vertical_video), "-p", "tiktok", "--rules", str(rules)])
    assert bad.exit_code == 2
    assert "tiktok.max_duration: expected a number" in bad.output


def test_usage_errors_exit_two(vertical_video: Path) -> None:
    assert runner.invoke(app, ["validate"]).exit_code == 2  # no file
    assert runner.invoke(app, ["validate", str(vertical_video), "-p", " , "]).exit_code == 2
    assert runner.invoke(app, ["validate", str(vertical_video), "--frobnicate"]).exit_code == 2


def test_console_script_in_a_subprocess(vertical_video: Path) -> None:
    """The installed entry point, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "multipublish", "validate", str(vertical_video), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr  # every platform by default
    data = json.loads(proc.stdout)
    assert list(data[str(vertical_video)]) == [
        "tiktok",
        "instagram",
        "facebook",
        "linkedin",
        "youtube",
    ]
