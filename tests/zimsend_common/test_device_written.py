"""Changing keys devices write only while they hold what was read."""

from __future__ import annotations

import redis

from zimsend_common import device_written


def test_a_key_is_replaced_only_while_it_still_holds_the_value_read(redisdb: redis.Redis):
    redisdb.set("claim", "device:a")

    assert not device_written.replace_if_equal(redisdb, "claim", "device:b", "cancelled", ex=60)
    assert redisdb.get("claim") == b"device:a"
    assert device_written.replace_if_equal(redisdb, "claim", b"device:a", "cancelled", ex=60)
    assert redisdb.get("claim") == b"cancelled" and 0 < redisdb.ttl("claim") <= 60


def test_a_key_of_another_kind_or_absent_is_left_as_it_is(redisdb: redis.Redis):
    redisdb.rpush("planted", "x")

    assert not device_written.replace_if_equal(redisdb, "planted", "device:a", "cancelled", ex=60)
    assert not device_written.replace_if_equal(redisdb, "absent", "device:a", "cancelled", ex=60)
    assert redisdb.lrange("planted", 0, -1) == [b"x"] and redisdb.get("absent") is None
