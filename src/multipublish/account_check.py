"""Verify an account against its services without uploading anything.

For upload-post platforms: the API key is valid, the profile (``user``) exists, the platform is
connected to it, the plan allows it (TikTok needs a paid plan), all from one
``GET /uploadposts/users`` per key (docs.upload-post.com/api/user-profiles). For YouTube: the
refresh token still gives an access token and a channel (a Testing-mode Google project's refresh
tokens die after 7 days). For both: the quota left in our own counters. Used by
``multipublish accounts check`` and ``POST /api/publishing/accounts/{id}/check``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multipublish.errors import ErrorKind, MultipublishError, NotFoundError, PlatformError

if TYPE_CHECKING:
    from multipublish.manager import PublishingManager
    from multipublish.usage.store import UsageStore


@dataclass(slots=True)
class Check:
    """One verdict: what was checked, whether it passed, and in words why (never a secret)."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(slots=True)
class PlatformReport:
    platform: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "ok": self.ok, "checks": [c.to_dict() for c in self.checks]}


async def check_account(
    manager: PublishingManager, account_id: str, usage: UsageStore | None = None
) -> dict[str, Any]:
    """``{"account_id", "ok", "platforms": [{"platform", "ok", "checks": [...]}]}``.

    ``NotFoundError`` when the account has no platform at all.
    """
    platforms = manager.accounts.platforms_of(account_id)
    if not platforms:
        raise NotFoundError("account", account_id)
    listings: dict[str, dict[str, Any] | PlatformError] = {}
    reports = []
    for platform in platforms:
        report = PlatformReport(platform)
        try:
            if platform == "youtube":
                await _youtube(manager, account_id, report)
            else:
                await _upload_post(manager, account_id, platform, report, listings)
        except MultipublishError as exc:  # unreadable credentials, unreachable service...
            report.add("service", False, exc.message)
        if usage is not None:
            _quota(usage, account_id, platform, report)
        reports.append(report)
    return {
        "account_id": account_id,
        "ok": all(r.ok for r in reports),
        "platforms": [r.to_dict() for r in reports],
    }


async def _upload_post(
    manager: PublishingManager,
    account_id: str,
    platform: str,
    report: PlatformReport,
    listings: dict[str, dict[str, Any] | PlatformError],
) -> None:
    client = manager._client(account_id, platform)
    credentials = manager.accounts.load(account_id, platform).credentials
    key = str(credentials.get("api_key") or "")
    user = str(credentials.get("user") or "")
    if key not in listings:
        try:
            listings[key] = await client.api.list_users()  # type: ignore[attr-defined]
        except PlatformError as exc:
            listings[key] = exc
    listing = listings[key]
    if isinstance(listing, PlatformError):
        if listing.kind is ErrorKind.AUTH:
            report.add(
                "api_key", False,
                "upload-post refused the API key: generate a new one under API Keys in the "
                "upload-post dashboard, then `multipublish accounts add` again",
            )
        else:
            report.add("api_key", False, f"upload-post could not be asked: {listing.message}")
        return
    report.add("api_key", True, "upload-post accepted the API key")
    profiles = [p for p in listing.get("profiles") or [] if isinstance(p, dict)]
    names = [str(p.get("username")) for p in profiles]
    profile = next((p for p in profiles if p.get("username") == user), None)
    if profile is None:
        known = ", ".join(names) or "none yet"
        report.add(
            "profile", False,
            f"upload-post profile {user!r} does not exist (profiles of this key: {known}); create it "
            "under Manage Users or fix the account's `user`",
        )
        return
    report.add("profile", True, f"upload-post profile {user!r} exists")
    connected = (profile.get("social_accounts") or {}).get(platform)
    if not connected:
        report.add(
            "connected", False,
            f"{platform} is not connected to profile {user!r}: connect it under Manage Users",
        )
    else:
        name = ""
        if isinstance(connected, dict):
            name = connected.get("display_name") or connected.get("username") or ""
        report.add("connected", True, f"{platform} is connected{f' as {name}' if name else ''}")
    plan = str(listing.get("plan") or "")
    if platform == "tiktok" and plan.lower() == "free":
        # docs.upload-post.com/guides/post-to-tiktok-api: TikTok posting needs a paid plan.
        report.add("plan", False, "TikTok posting needs a paid upload-post plan (this key is on Free)")
    elif plan:
        limit = listing.get("limit")
        report.add("plan", True, f"upload-post plan {plan}" + (f", {limit} uploads a month" if limit else ""))
    if platform == "facebook" and not credentials.get("page_id"):
        await _facebook_page(client, user, report)


async def _facebook_page(client: Any, user: str, report: PlatformReport) -> None:
    """Without a page id the service posts to the profile's only page, or answers with
    ``available_pages`` when there are several: say which, from the pages listing."""
    try:
        listing = await client.api.facebook_pages(user)
    except PlatformError as exc:
        report.add("page_id", False, f"no page_id, and the Facebook pages could not be listed: {exc.message}")
        return
    pages = [p for p in listing.get("pages") or [] if isinstance(p, dict)]
    names = ", ".join(f"{p.get('page_id')} ({p.get('page_name') or '?'})" for p in pages)
    if len(pages) == 1:
        report.add("page_id", True, f"no page_id: posts go to the only connected page, {names}")
    elif not pages:
        report.add("page_id", False, "no Facebook page is connected to this profile: connect one")
    else:
        report.add("page_id", False, f"several Facebook pages are connected: add page_id, one of {names}")


async def _youtube(manager: PublishingManager, account_id: str, report: PlatformReport) -> None:
    client = manager._client(account_id, "youtube")
    try:
        await client.authenticate()
    except PlatformError as exc:
        if exc.kind is ErrorKind.AUTH:
            fix = "" if "accounts auth" in exc.message else f"; run `multipublish accounts auth {account_id}`"
            report.add(
                "token", False,
                f"{exc.message}{fix}. If this comes back every week, the Google project is in "
                "Testing mode, whose refresh tokens last 7 days (see docs/youtube.md)",
            )
        else:
            report.add("token", False, f"YouTube could not be asked: {exc.message}")
        return
    report.add("token", True, "the refresh token gives an access token")
    channel = getattr(client, "channel", None) or {}
    report.add("channel", True, f"channel {channel.get('title') or '?'} ({channel.get('id') or '?'})")


def _quota(usage: UsageStore, account_id: str, platform: str, report: PlatformReport) -> None:
    decision = usage.check(account_id, platform)
    if decision.allowed:
        report.add("quota", True, decision.reason)
    else:
        until = f" until {decision.wait_until:%Y-%m-%d %H:%M} UTC" if decision.wait_until else ""
        report.add("quota", False, f"{decision.reason}; publishes wait{until}")
