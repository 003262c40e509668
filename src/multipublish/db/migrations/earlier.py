"""Loading an earlier migration's module, for a migration that builds on its SQL.

The revision files are not importable by name (theirs start with digits, and Alembic loads them
itself), so a later one that reuses an earlier one's text loads it from its file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

_VERSIONS = Path(__file__).with_name("versions")


def earlier_migration(filename: str) -> ModuleType:
    """The module of ``versions/<filename>``, loaded afresh."""
    name = f"mp_migration_{filename.split('_', 1)[0]}"
    spec = importlib.util.spec_from_file_location(name, _VERSIONS / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
