"""Usage, quotas and costs: what each publish attempt spent, and whether the next one may go.

* :class:`UsageStore` records attempts and keeps the per-account quota counters.
* :class:`QuotaGate` answers "may this account publish to this platform now?" and reserves atomically.
* :mod:`multipublish.usage.analytics` turns records into success rates, timings and monthly costs.
"""

from __future__ import annotations

from multipublish.usage import tables as tables  # registers the tables on the shared metadata
from multipublish.usage.gate import QuotaDecision, QuotaGate, Reservation, quota_gate_for
from multipublish.usage.store import UsageStore, quota_bucket

__all__ = ["QuotaDecision", "QuotaGate", "Reservation", "UsageStore", "quota_bucket", "quota_gate_for"]
