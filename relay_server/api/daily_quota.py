"""A client's daily quota as the API answers it: the 429 ``QUOTA_EXCEEDED`` of a send past
it, and where the client stands today (``daily_quota`` in ``GET /v1/sms/stats``).

The contract does not list the quota: the vendor's OpenAPI answers ``POST /sms/send``
with 429 ``QUOTA_EXCEEDED`` ("Daily SMS limit reached") and its plans count SMS a day,
but nothing says how a client would learn of them. Here it is an operator's, set with
``zimsend-relay set-quota`` and none by default: a client written for the vendor's
documentation meets it only where the vendor would answer it too. The store counts
and refuses (``relay_server.store.daily_quota`` says what counts) in the transaction
that stores a send; a caller carries its client's quota from its authentication, and
a quota set anew reaches every process's cached callers as a revoked key does
(``caller_cache``).
"""

from __future__ import annotations

import math
from datetime import datetime

from relay_server.api import context
from relay_server.api.errors import ApiError
from relay_server.api.models.tracking import DailyQuota
from relay_server.store.daily_quota import QuotaExceeded, resets_at
from relay_server.store.models import Caller
from zimsend_common.timefmt import isoformat_z


def limit_of(caller: Caller) -> int | None:
    """The quota the caller's sends count against: its client's for a live key, none for a
    test key (its messages reach no network: they are no SMS)."""
    return None if caller.is_test else caller.daily_quota


def refused(exceeded: QuotaExceeded, now: datetime) -> ApiError:
    """429 ``QUOTA_EXCEEDED`` for a send that does not fit, with where the client stands in
    ``details`` and ``Retry-After`` the seconds from ``now`` to the next UTC midnight; none
    when the send asks for more than the whole quota, which no day would take."""
    details = {
        "limit": exceeded.limit,
        "used": exceeded.used,
        "requested": exceeded.requested,
        "resets_at": isoformat_z(exceeded.resets_at),
    }
    if exceeded.requested > exceeded.limit:
        return ApiError(
            "QUOTA_EXCEEDED",
            f"Daily SMS limit reached: this request asks for {exceeded.requested} SMS, more than your whole"
            f" daily quota of {exceeded.limit}; no day can take it. Send it in parts of at most {exceeded.limit}.",
            details=details,
        )
    wait = max(1, math.ceil((exceeded.resets_at - now).total_seconds()))
    return ApiError(
        "QUOTA_EXCEEDED",
        f"Daily SMS limit reached: {exceeded.used} of your {exceeded.limit} SMS today (UTC) are used,"
        f" and this request asks for {exceeded.requested}. The quota starts again at 00:00 UTC.",
        details=details,
        headers={"Retry-After": str(wait)},
    )


def standing(caller: Caller, now: datetime) -> DailyQuota | None:
    """Where the caller's client stands with its quota on the UTC day of ``now``; None when
    its sends count against none."""
    limit = limit_of(caller)
    if limit is None:
        return None
    used = context.current().store.daily_quotas.used_on([caller.client_id], now)[caller.client_id]
    return DailyQuota(limit=limit, used=used, remaining=max(0, limit - used), resets_at=resets_at(now))
