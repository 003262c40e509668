"""Facebook pages through upload-post: page id from the credentials, post type, privacy, place."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from multipublish.platforms.options import FormFields, OptionReader

PLATFORM = "facebook"

MEDIA_TYPES = {"video": "VIDEO", "reels": "REELS", "stories": "STORIES"}
#: Page posts have no friends audience: public publishes, only_me leaves an unpublished draft
#: visible to the page's admins only.
PRIVACY = {"public": "PUBLISHED", "only_me": "DRAFT", "friends": "friends"}


def map_options(
    options: Mapping[str, Any] | None, *, post_type: str, credentials: Mapping[str, Any]
) -> FormFields:
    """Check the Facebook options and return the form fields they become."""
    opts = OptionReader(PLATFORM, options)
    page_id = opts.text("page_id", max_length=100) or str(credentials.get("page_id") or "")
    fields: FormFields = [("facebook_media_type", MEDIA_TYPES[post_type])]
    if page_id:
        fields.insert(0, ("facebook_page_id", page_id))
    state = opts.choice("privacy", PRIVACY)
    if state == "friends":
        raise opts.error("privacy", "a Facebook page has no friends audience: use public or only_me")
    if state:
        fields.append(("video_state", state))
    place = opts.text("place", max_length=100)
    if place:
        if not place.isdigit():
            raise opts.error("place", f"must be a numeric place id, got {place!r}")
        fields.append(("facebook_place_id", place))
    backdated = opts.timestamp("backdated_time")
    if backdated is not None:
        if backdated > datetime.now(UTC):
            raise opts.error("backdated_time", "must be in the past (use scheduled_time for later)")
        # Not among the spec's documented fields [unverified]: sent under the page-video name.
        fields.append(("facebook_backdated_time", backdated.isoformat().replace("+00:00", "Z")))
    thumb = opts.text("thumbnail_url", max_length=2000)
    if thumb:
        if not thumb.startswith(("http://", "https://")):
            raise opts.error("thumbnail_url", "must be an http(s) URL")
        fields.append(("thumbnail_url", thumb))
    opts.finish()
    return fields
