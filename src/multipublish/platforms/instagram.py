"""Instagram through upload-post: post type (reels, stories, feed) and tagging options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multipublish.platforms.options import FormFields, OptionReader, flag

PLATFORM = "instagram"

POST_TYPES = {"reels": "reels", "stories": "stories", "feed": "feed"}
#: Instagram handles: letters, digits, dots and underscores, at most 30.
HANDLE = r"[A-Za-z0-9._]{1,30}"


def map_options(
    options: Mapping[str, Any] | None, *, post_type: str, credentials: Mapping[str, Any]
) -> FormFields:
    """Check the Instagram options and return the form fields they become.

    Feed videos are posted as REELS with ``share_to_feed=true`` (the API has no separate feed
    video type). ``post_type`` in the options must agree with ``instagram:<type>`` when both given.
    """
    opts = OptionReader(PLATFORM, options)
    chosen = opts.choice("post_type", POST_TYPES)
    if chosen and post_type != "reels" and chosen != post_type:
        raise opts.error("post_type", f"{chosen!r} contradicts the platform name instagram:{post_type}")
    kind = chosen or post_type
    fields: FormFields = [("media_type", "STORIES" if kind == "stories" else "REELS")]
    share = opts.boolean("share_to_feed")
    if kind == "stories" and share is not None:
        raise opts.error("share_to_feed", "applies to reels only, not stories")
    if kind == "feed":
        if share is False:
            raise opts.error("share_to_feed", "a feed post is always shared to the feed")
        share = True
    if share is not None:
        fields.append(("share_to_feed", flag(share)))
    location = opts.text("location", max_length=200)
    if location:
        # ``location_id`` is a Facebook place id (a number), not a place's name.
        if not location.strip().isdigit():
            raise opts.error(
                "location", f"must be a location id (digits, a Facebook place id), not text: {location!r}"
            )
        fields.append(("location_id", location.strip()))
    tags = opts.names("tag_users", pattern=HANDLE)
    if tags:
        fields.append(("user_tags", ",".join(tags)))
    collaborators = opts.names("collaborators", pattern=HANDLE, max_items=3)
    if collaborators:
        fields.append(("collaborators", ",".join(collaborators)))
    cover = opts.text("cover_url", max_length=2000)
    if cover:
        if not cover.startswith(("http://", "https://")):
            raise opts.error("cover_url", "must be an http(s) URL")
        fields.append(("cover_url", cover))
    audio = opts.text("audio_name", max_length=200)
    if audio:
        fields.append(("audio_name", audio))
    offset = opts.integer("thumb_offset", minimum=0)
    if offset is not None:
        fields.append(("thumb_offset", str(offset)))
    first_comment = opts.text("first_comment", max_length=2200)
    # upload-post comments it under the post once live: ``<platform>_first_comment`` in the official SDK
    # (Upload-Post/upload-post-pip, upload_post/api_client.py, _add_common_params).
    if first_comment and first_comment.strip():
        fields.append(("instagram_first_comment", first_comment.strip()))
    opts.finish()
    return fields
