"""YouTube quota belongs to the Google Cloud project (OAuth client), not to the channel."""

from __future__ import annotations

from sqlalchemy import Engine

from multipublish.accounts import AccountStore
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore
from tests.usage.conftest import FakeClock, ok


def _channel(store: AccountStore, account: str, client_id: str) -> None:
    store.add(
        account,
        "youtube",
        {"client_id": client_id, "client_secret": "s", "refresh_token": f"rt-{account}"},
    )


def test_channels_on_one_oauth_client_share_its_quota(
    engine: Engine, clock: FakeClock, secret_key: str
) -> None:
    settings = Settings(secret_key=secret_key, youtube_daily_units=3500)  # two inserts of 1600
    accounts = AccountStore(engine, settings)
    _channel(accounts, "brand-a", "project-1.apps.googleusercontent.com")
    _channel(accounts, "brand-b", "project-1.apps.googleusercontent.com")
    _channel(accounts, "brand-c", "project-2.apps.googleusercontent.com")
    usage = UsageStore(engine, settings, clock=clock)
    gate = QuotaGate(usage)
    for account in ("brand-a", "brand-b"):
        decision = gate.reserve(account, "youtube")
        assert decision.allowed and decision.reservation is not None
        gate.settle(decision.reservation, account, ok("youtube"), job_id="j", duration_s=1.0)
    # brand-a's channel has used only 1600, but the project has used 3200 of 3500.
    refused = gate.reserve("brand-a", "youtube")
    assert not refused.allowed and "3200/3500" in refused.reason
    assert gate.reserve("brand-c", "youtube").allowed  # another project, another quota
    [row] = [r for r in usage.quota_states("brand-b") if r["platform"] == "youtube"]
    assert row["account_id"] == "google-project:project-1.apps.googleusercontent.com"
    assert row["used"] == 3200
    # An account without readable YouTube credentials keeps counters of its own.
    assert usage.quota_key("nobody", "youtube") == "nobody"
    assert usage.quota_key("brand-a", "upload-post") == "brand-a"
