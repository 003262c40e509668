"""TikTok through upload-post: the brief's options mapped onto upload-post's TikTok fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multipublish.platforms.options import FormFields, OptionReader, flag

PLATFORM = "tiktok"

#: The brief's privacy values (plus ``followers``) onto TikTok's ``privacy_level``.
PRIVACY = {
    "public": "PUBLIC_TO_EVERYONE",
    "friends_only": "MUTUAL_FOLLOW_FRIENDS",
    "followers": "FOLLOWER_OF_CREATOR",
    "private": "SELF_ONLY",
}


def map_options(
    options: Mapping[str, Any] | None, *, post_type: str, credentials: Mapping[str, Any]
) -> FormFields:
    """Check the TikTok options and return the form fields they become.

    ``allow_*`` are inverted onto TikTok's ``disable_*`` flags; ``draft`` sends the video to the
    creator's inbox (``post_mode=MEDIA_UPLOAD``) instead of posting it.
    """
    opts = OptionReader(PLATFORM, options)
    fields: FormFields = []
    privacy = opts.choice("privacy", PRIVACY)
    if privacy:
        fields.append(("privacy_level", privacy))
    for option, wire in (
        ("allow_comments", "disable_comment"),
        ("allow_duet", "disable_duet"),
        ("allow_stitch", "disable_stitch"),
    ):
        allowed = opts.boolean(option)
        if allowed is not None:
            fields.append((wire, flag(not allowed)))
    for option, wire in (
        ("brand_content", "brand_content_toggle"),
        ("brand_organic", "brand_organic_toggle"),
        ("is_aigc", "is_aigc"),
    ):
        value = opts.boolean(option)
        if value is not None:
            fields.append((wire, flag(value)))
    draft = opts.boolean("draft")
    if draft is not None:
        fields.append(("post_mode", "MEDIA_UPLOAD" if draft else "DIRECT_POST"))
    cover = opts.integer("cover_timestamp", minimum=0)
    if cover is not None:
        fields.append(("cover_timestamp", str(cover)))
    if opts.text("first_comment", max_length=2200):
        raise opts.error("first_comment", "upload-post cannot post a first comment on TikTok (it offers "
                         "first comments for Instagram, Facebook, LinkedIn, YouTube and others, not TikTok)")
    opts.finish()
    return fields
