"""Facebook pages through upload-post: page id from the credentials, post type, privacy.

Only fields upload-post knows are sent. Without a page id the service picks the profile's only
connected page, or answers with ``available_pages`` (surfaced to the user by the client).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    if opts.options.get("place") is not None:
        opts.text("place", max_length=100)  # marks it read
        # docs.upload-post.com/api/upload-video documents no Facebook place field, and the SDK's
        # own upload_video docstring lists Facebook's as facebook_page_id, video_state,
        # facebook_media_type and thumbnail_url. Its _add_facebook_params (2.13) does send an
        # undocumented ``facebook_place_id``, which the service may ignore without a word: the
        # documentation wins, and the option is refused before the upload rather than lost after.
        raise opts.error("place", "upload-post documents no field that carries a Facebook place")
    if opts.options.get("backdated_time") is not None:
        opts.timestamp("backdated_time")  # marks it read
        # Graph API pages can backdate, but upload-post has no field that carries it: refused
        # rather than sent under a name the service ignores.
        raise opts.error("backdated_time", "upload-post cannot carry a backdated time for Facebook")
    thumb = opts.text("thumbnail_url", max_length=2000)
    if thumb:
        if not thumb.startswith(("http://", "https://")):
            raise opts.error("thumbnail_url", "must be an http(s) URL")
        fields.append(("thumbnail_url", thumb))
    first_comment = opts.text("first_comment", max_length=8000)
    # upload-post comments it under the post once live: ``<platform>_first_comment`` in the official SDK
    # (Upload-Post/upload-post-pip, upload_post/api_client.py, _add_common_params).
    if first_comment and first_comment.strip():
        fields.append(("facebook_first_comment", first_comment.strip()))
    opts.finish()
    return fields
