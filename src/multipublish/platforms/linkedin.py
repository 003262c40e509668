"""LinkedIn through upload-post: visibility, commentary, company page.

Scheduled like every upload-post platform: ``scheduled_date`` on the upload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multipublish.platforms.options import FormFields, OptionReader

PLATFORM = "linkedin"

VISIBILITY = {"public": "PUBLIC", "connections": "CONNECTIONS", "logged_in": "LOGGED_IN"}

def map_options(
    options: Mapping[str, Any] | None, *, post_type: str, credentials: Mapping[str, Any]
) -> FormFields:
    """Check the LinkedIn options.

    The post text (commentary) is the composed caption in ``description``; the ``commentary``
    option overrides it there (``captions.compose_caption``), so it is not read here.
    """
    opts = OptionReader(PLATFORM, options)
    fields: FormFields = []
    visibility = opts.choice("visibility", VISIBILITY)
    if visibility:
        fields.append(("visibility", visibility))
    page = opts.text("page_id", max_length=100)
    if page:
        fields.append(("target_linkedin_page_id", page))
    first_comment = opts.text("first_comment", max_length=1250)
    # upload-post comments it under the post once live: ``<platform>_first_comment`` in the official SDK
    # (Upload-Post/upload-post-pip, upload_post/api_client.py, _add_common_params).
    if first_comment and first_comment.strip():
        fields.append(("linkedin_first_comment", first_comment.strip()))
    opts.finish()
    return fields
