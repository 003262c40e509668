"""Shared test set-up: fixtures live in ``tests/fixtures``, one module per real part."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures.env",
    "tests.fixtures.db",
    "tests.fixtures.videos",
    "tests.fixtures.sandbox",
    "tests.fixtures.api",
    "tests.fixtures.youtube",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``MULTIPUBLISH_FAST=1`` skips the slow soak and browser tests locally; CI runs them all."""
    if os.environ.get("MULTIPUBLISH_FAST") != "1":
        return
    skip = pytest.mark.skip(reason="MULTIPUBLISH_FAST=1 skips slow and browser tests")
    for item in items:
        if "slow" in item.keywords or "browser" in item.keywords:
            item.add_marker(skip)
