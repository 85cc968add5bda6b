"""``zimsend-relay worker`` as a process: it serves, waits out a Redis outage, and stops when told."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from store_factories import new_message
from waiting import free_port, wait_until
from worker_process import start_worker, stopped_within

from relay_server.cli.worker import SCHEDULER_CHECK_SECONDS, WORKER_TTL_SECONDS
from relay_server.dispatch import placement
from relay_server.store.migrate import HEAD, MIGRATION_LOCK_ID, current_revision
from relay_server.store.store import Store
from zimsend_common import bus, wire

pytestmark = pytest.mark.slow  # every test runs zimsend-relay worker as a process

BIN = Path(sys.executable).parent


def _wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float = 60) -> None:
    # A loaded machine may take seconds just to import the worker: wait for what it says, not for a time.
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"no {text!r} in the worker's log within {timeout} s"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_waiting_for_an_absent_redis_stops_when_told(tmp_path, sqlite_url, signum):
    worker = start_worker(tmp_path, sqlite_url, "redis://127.0.0.1:1/0")
    try:
        _wait_for_line(tmp_path / "worker.log", "worker waits for Redis", worker)  # waiting, not crashed
        worker.send_signal(signum)
        assert stopped_within(worker, 20, tmp_path / "worker.log") == 0
    finally:
        worker.kill()


def test_the_worker_plays_the_simulated_device_and_stops_when_told(tmp_path, sqlite_url, redis_proc, redisdb):
    store = Store.open(sqlite_url)
    client, _key = store.clients.create("acme")
    [message] = store.insert_messages([new_message(client.client_id, is_test=True, body="hi")])
    placement.enqueue_send(redisdb, store.devices.signing_keys, message)
    worker = start_worker(tmp_path, sqlite_url, f"redis://{redis_proc.host}:{redis_proc.port}/0")
    try:
        wait_until(lambda: store.get_message_by_id(message.message_id).status == "delivered", "delivered", 30)
        # Played, its job is gone, its text with it: RQ deletes it once the play has returned,
        # a moment after the store has the report (on a loaded machine, a noticeable one).
        job_key = bus.BusJob.key_for(wire.send_job_id(message.client_id, message.message_id))
        wait_until(lambda: not redisdb.exists(job_key), "the played job deleted", 10)
        worker.send_signal(signal.SIGTERM)
        assert stopped_within(worker, 20, tmp_path / "worker.log") == 0
    finally:
        worker.kill()
        store.close()


def test_an_idle_worker_stops_within_seconds_of_sigterm(tmp_path, sqlite_url, redis_proc, redisdb):
    worker = start_worker(tmp_path, sqlite_url, f"redis://{redis_proc.host}:{redis_proc.port}/0")
    try:
        deadline = time.monotonic() + 60
        # Idle means in RQ's wait for a job, with its command thread listening on Redis.
        while not any(count for _, count in redisdb.pubsub_numsub(*redisdb.pubsub_channels("rq:pubsub:*"))):
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert stopped_within(worker, 20, tmp_path / "worker.log") == 0  # RQ's own listener alone took 60 s
    finally:
        worker.kill()


def scheduler_pids(redis_client) -> set[int]:
    """The PIDs RQ's schedulers registered in Redis."""
    keys = [key for key in redis_client.scan_iter("rq:scheduler:*") if redis_client.type(key) == b"hash"]
    pids = [redis_client.hget(key, "pid") for key in keys]
    return {int(pid) for pid in pids if pid is not None}  # a hash RQ is still writing has none yet


def test_the_worker_starts_its_rq_scheduler_again_when_it_died_and_says_so(tmp_path, sqlite_url, redis_proc, redisdb):
    worker = start_worker(tmp_path, sqlite_url, f"redis://{redis_proc.host}:{redis_proc.port}/0")
    try:
        [first] = wait_until(lambda: scheduler_pids(redisdb), "RQ's scheduler", 30)
        os.kill(first, signal.SIGKILL)  # as a Redis timeout in its heartbeat ends it
        restarted = SCHEDULER_CHECK_SECONDS + WORKER_TTL_SECONDS + 10
        [second] = wait_until(lambda: scheduler_pids(redisdb) - {first}, "a new RQ scheduler", restarted)
        os.kill(second, 0)  # alive
        # The new scheduler may register itself before the worker has written its line.
        log = tmp_path / "worker.log"
        wait_until(lambda: b"RQ scheduler had stopped; started again" in log.read_bytes(), "the worker's word", 30)
        worker.send_signal(signal.SIGTERM)
        assert stopped_within(worker, 20, tmp_path / "worker.log") == 0
    finally:
        worker.kill()


def test_a_killed_worker_takes_its_rq_scheduler_with_it(tmp_path, sqlite_url, redis_proc, redisdb):
    worker = start_worker(tmp_path, sqlite_url, f"redis://{redis_proc.host}:{redis_proc.port}/0")
    try:
        [scheduler] = wait_until(lambda: scheduler_pids(redisdb), "RQ's scheduler", 30)
        os.kill(worker.pid, signal.SIGKILL)  # as the OOM killer would: no teardown runs
        wait_until(lambda: not _alive(scheduler), "the scheduler to end with its worker", 20)
    finally:
        worker.kill()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; an exited child not yet reaped by its new parent counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


# A process with the worker's fork hooks, and a SIGTERM handler that only sets a flag as the
# worker's does, forks a child that installs no handler of its own (as RQ's scheduler, before
# it installs its own) and sends it SIGTERM at once; it prints how the child ended.
_FORK_STOPPED_AT_ONCE = """
import os, signal, time
from relay_server.cli import worker
signal.signal(signal.SIGTERM, lambda signum, frame: None)
worker._children_end_with(os.getpid())
child = os.fork()
if child == 0:
    time.sleep(10)
    os._exit(0)
os.kill(child, signal.SIGTERM)
_, status = os.waitpid(child, 0)
print("ended by SIGTERM" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM else "ran on")
"""


def test_a_process_the_worker_forks_ends_on_sigterm_even_before_it_installs_handlers():
    finished = subprocess.run(
        [sys.executable, "-c", _FORK_STOPPED_AT_ONCE], capture_output=True, text=True, timeout=60, check=True
    )
    assert finished.stdout.strip() == "ended by SIGTERM"


def test_a_worker_told_to_stop_while_it_starts_finishes_migrating_the_store_then_stops_cleanly(
    tmp_path, empty_postgres_url, redis_proc
):
    migrating = sa.create_engine(empty_postgres_url)  # another relay process, migrating this store
    try:
        with migrating.connect() as other:
            other.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            worker = start_worker(tmp_path, empty_postgres_url, f"redis://{redis_proc.host}:{redis_proc.port}/0")
            try:
                wait_until(
                    lambda: _waits_for_the_migration_lock(other), "the worker to wait for its turn to migrate", 60
                )
                worker.send_signal(signal.SIGTERM)  # as systemctl stop does while the unit starts
                other.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                assert stopped_within(worker, 60, tmp_path / "worker.log") == 0
            finally:
                worker.kill()
        assert current_revision(migrating) == HEAD
    finally:
        migrating.dispose()


def _waits_for_the_migration_lock(conn: sa.Connection) -> bool:
    """Whether a session of this database waits for the migration's advisory lock."""
    waiting = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return bool(conn.execute(waiting).scalar())


def test_a_worker_started_while_its_database_is_down_waits_for_it_and_stops_cleanly(tmp_path, redis_proc):
    unreachable = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{free_port()}/none"
    worker = start_worker(tmp_path, unreachable, f"redis://{redis_proc.host}:{redis_proc.port}/0")
    try:
        # Waiting, not ended: it takes the reports once the database answers (PostgreSQL
        # restarting as the worker starts, or not yet up at boot).
        _wait_for_line(tmp_path / "worker.log", "worker waits for the database", worker)
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        assert stopped_within(worker, 20, tmp_path / "worker.log") == 0
    finally:
        worker.kill()


def test_of_two_workers_the_one_whose_rq_scheduler_lost_the_lock_to_the_others_says_nothing_of_it(
    tmp_path, sqlite_url, redis_proc, redisdb
):
    url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    workers = []
    try:
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            workers.append(start_worker(tmp_path / name, sqlite_url, url))
        [scheduler] = wait_until(lambda: scheduler_pids(redisdb), "RQ's scheduler", 30)
        # Two of RQ's maintenance rounds, which try the lock again in the worker without a scheduler.
        time.sleep(2 * SCHEDULER_CHECK_SECONDS + 3)
        assert scheduler_pids(redisdb) == {scheduler}
        logs = [(tmp_path / name / "worker.log").read_text(errors="replace") for name in ("first", "second")]
        assert not any("RQ scheduler" in log for log in logs)  # nothing stopped: no word of it
    finally:
        for worker in workers:
            worker.kill()
