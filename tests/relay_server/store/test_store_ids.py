from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from relay_server.store import ids

NOON = datetime(2026, 12, 6, 12, 0, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(("make", "prefix"), [(ids.new_message_id, "msg_"), (ids.new_incoming_id, "in_")])
def test_ids_made_in_one_minute_begin_alike_and_differ_after(make: Callable[[datetime], str], prefix: str) -> None:
    made = [make(NOON + timedelta(seconds=s)) for s in range(29)]  # all in 12:00
    made += [make(NOON) for _ in range(5000)]

    assert all(re.fullmatch(prefix + "[0-9a-f]{16}", made_id) for made_id in made)
    assert len(set(made)) == len(made)
    assert len({made_id[len(prefix) : len(prefix) + 2] for made_id in made}) == 1
    assert len({made_id[len(prefix) + 2 :] for made_id in made}) == len(made)  # the rest is random


def test_an_id_begins_with_its_minute_in_a_cycle_of_256() -> None:
    minute = int(NOON.timestamp() // 60)
    later = [ids.new_message_id(NOON + timedelta(minutes=n)) for n in range(300)]

    assert [int(made_id[4:6], 16) for made_id in later] == [(minute + n) % 256 for n in range(300)]
