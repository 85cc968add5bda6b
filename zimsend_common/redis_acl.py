"""A Redis ACL user per device: its agent reaches its own queues and keys, and no others.

The rules follow the key layout of ``wire`` (device D of client C):

read and write   rq:queue:zimsend.device.D.p*   its own queues
                 rq:queue:zimsend.client.C.p*   its client's shared queues
                 rq:job:C-*, rq:executions:C-*, rq:results:C-*
                                                its client's send jobs (read, then deleted)
                                                and their batches' manifests (read)
                 rq:job:D-*                     its own event jobs
                 rq:*:zimsend.device.D.p*, rq:*:zimsend.client.C.p*
                                                RQ's registries of those queues (a job's delete
                                                clears them)
                 zimsend:claim:C:*              claims of its client's messages
                 zimsend:inflight:D, zimsend:heartbeat:D, zimsend:send-times:D
read only        zimsend:device:D:client        its binding (signed by the relay)
                 zimsend:event-ack:D:*          acknowledgements of its events
                 zimsend:epoch                  the relay's sentinel
append only      rq:queue:zimsend.events        RPUSH alone (its events)
                 rq:queues                      SADD alone (RQ names every queue it enqueues on)

What RQ's layout leaves shared, and how it is held instead:

- the events queue is one list for every device: a device may append job
  ids to it but neither read, pop nor remove them; each event's content is
  in the device's own ``rq:job:D-*`` hash, and the worker believes an event
  only when it is signed with the key of the device it names;
- ``rq:queues`` (the set of all queue names): append only; a name added
  there makes no worker listen to it;
- the job hashes of a client's messages (``rq:job:C-*``) are readable by
  every device of that client: a message may move between the client's
  shared queue and one device's queue under one job id, and any device of
  the client may take it from the shared queue. A device can rewrite such a
  hash, but not sign for another device: a job fails its signature check;
- any key a device writes may hold any kind of value, which Redis then
  refuses to read as the kind expected: the worker and ``/metrics``, which
  read such keys for every client at once, read them through
  ``device_written``, so that one planted value costs that key alone.
"""

from __future__ import annotations

import re
import secrets

from zimsend_common import wire

# Ids go into key patterns: they must hold no glob or separator characters.
_SAFE_ID = re.compile(r"[A-Za-z0-9_]{1,64}")
COMMANDS = (
    "ping",
    "get",
    "set",
    "del",
    "exists",
    "expire",
    "ttl",
    "hget",
    "hgetall",
    "hset",
    "hmset",
    "hdel",
    "lpush",
    "rpush",
    "lpop",
    "blpop",
    "llen",
    "lrem",
    "lrange",
    "ltrim",
    "zadd",
    "zrem",
    "zscore",
    "zrange",
    "zremrangebyscore",
    "sadd",
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",
    "info",  # RQ asks the server's version before it enqueues (no key is read)
)


def username(device_id: str) -> str:
    return f"zimsend-{device_id}"


def new_password() -> str:
    """A password for a device's Redis user (256 bits)."""
    return secrets.token_urlsafe(32)


def setuser(device_id: str, client_id: str, password: str) -> list[str]:
    """The ``ACL SETUSER`` command (as its words) that creates or resets the device's Redis user."""
    for value in (device_id, client_id):
        if not _SAFE_ID.fullmatch(value):
            raise ValueError(f"{value!r} cannot be used in a Redis key pattern")
    device_queues = wire.device_queue(device_id, 0).removesuffix("0")  # zimsend.device.D.p
    client_queues = wire.client_queue(client_id, 0).removesuffix("0")
    read_write = [
        f"rq:queue:{device_queues}*",
        f"rq:queue:{client_queues}*",
        f"rq:*:{device_queues}*",
        f"rq:*:{client_queues}*",
        *(f"rq:{kind}:{wire.send_job_id(client_id, '')}*" for kind in ("job", "job:", "executions", "results")),
        f"rq:job:{wire.event_job_id(device_id, '')}*",
        wire.claim_key(client_id, "*"),
        wire.inflight_key(device_id),
        wire.heartbeat_key(device_id),
        wire.send_times_key(device_id),
    ]
    read_only = [wire.device_client_key(device_id), wire.event_ack_key(device_id, "*"), wire.redis_epoch_key()]
    return [
        "ACL",
        "SETUSER",
        username(device_id),
        "reset",
        "on",
        f">{password}",
        "resetchannels",
        "-@all",
        *(f"+{command}" for command in COMMANDS),
        *(f"~{pattern}" for pattern in read_write),
        *(f"%R~{pattern}" for pattern in read_only),
        f"(~rq:queue:{wire.EVENTS_QUEUE} +rpush)",
        "(~rq:queues +sadd)",
    ]


def deluser(device_id: str) -> list[str]:
    """The ``ACL DELUSER`` command (as its words) that removes the device's Redis user and
    closes the connections it opened; a user already gone is no error."""
    return ["ACL", "DELUSER", username(device_id)]


def command_line(words: list[str]) -> str:
    """The command as one line for ``redis-cli`` (each word quoted when it needs to be)."""
    return " ".join(word if re.fullmatch(r"[\w:.~%+>*@-]+", word) else f"'{word}'" for word in words)
