"""Languages and hashtags: titles and descriptions per language (BCP 47), hashtags per platform."""

from __future__ import annotations

from multipublish.localization.hashtags import HashtagReport, normalise_hashtags
from multipublish.localization.languages import check_language_tag, check_localizations

__all__ = ["HashtagReport", "check_language_tag", "check_localizations", "normalise_hashtags"]
