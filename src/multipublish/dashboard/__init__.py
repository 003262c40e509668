"""dashboard (filled in by its issue)."""
