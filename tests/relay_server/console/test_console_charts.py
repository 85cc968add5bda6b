"""The charts show every hour and day of their span, those without a message at zero: left out,
they squeezed the time axis together."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from store_factories import new_message

from relay_server.store.models import StatusChange
from relay_server.store.schema import messages
from zimsend_common.timefmt import parse_utc, utcnow

CHART_DATA = re.compile(r'<script type="application/json" id="chart-data">(.*?)</script>', re.DOTALL)


def _sent(console, client_id: str, created_at: datetime) -> None:
    """A message created at ``created_at`` and sent."""
    new = new_message(client_id, body="hi")
    [message] = console.store.insert_messages([new])
    console.store.apply_status_change(StatusChange(message.message_id, "sent", utcnow()))
    with console.store.engine.begin() as conn:
        conn.execute(
            sa.update(messages).where(messages.c.message_id == message.message_id).values(created_at=created_at)
        )


def test_the_charts_show_every_hour_and_day_of_their_span_those_without_a_message_at_zero(console):
    acme = console.new_client()
    now = utcnow()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    _sent(console, acme.client_id, now)
    _sent(console, acme.client_id, now - timedelta(hours=5))
    browser = console.browser()
    browser.sign_in(acme)
    found = CHART_DATA.search(browser.text("/console/charts"))
    assert found
    data = json.loads(found.group(1))

    hours = [parse_utc(hour["hour"]) for hour in data["hours"]]
    assert len(hours) == 48 and hours[-1] >= this_hour  # the last, the current hour (the next one, just past it)
    assert all(later - earlier == timedelta(hours=1) for earlier, later in zip(hours, hours[1:]))
    sent = {hour: row["sent"] for hour, row in zip(hours, data["hours"])}
    assert sent[this_hour] == 1 and sent[this_hour - timedelta(hours=5)] == 1
    assert sum(sent.values()) == 2  # every other hour, at zero
    assert all(row["latency_seconds"] is None for row in data["hours"])

    days = [date.fromisoformat(day["date"]) for day in data["days"]]
    assert len(days) == 30 and days[-1] >= now.date()
    assert all(later - earlier == timedelta(days=1) for earlier, later in zip(days, days[1:]))
    assert all((row["sent"], row["delivered"], row["failed"]) == (0, 0, 0) for row in data["days"])
