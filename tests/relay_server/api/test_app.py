"""create_app from settings alone: it opens its own store and Redis."""

from __future__ import annotations

from relay_server.api import context
from relay_server.api.app import create_app
from relay_server.dispatch.dispatcher import StoreOnlyDispatcher
from zimsend_common.config import RelaySettings, Settings


def test_an_app_from_settings_alone_keeps_its_data_in_a_new_data_dir(tmp_path, redis_proc, redisdb):
    data_dir = tmp_path / "fresh" / "data"
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    settings = Settings(relay=RelaySettings(data_dir=data_dir, redis_url=redis_url))
    app = create_app(settings)
    with app.app_context():
        relay = context.current()
        assert isinstance(relay.dispatcher, StoreOnlyDispatcher)
        client, api_key = relay.store.create_client("acme")
    try:
        answer = app.test_client().get("/v1/auth/test", headers={"X-Client-ID": client.client_id, "X-API-Key": api_key})
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == "100"
        assert (data_dir / "zimsend.sqlite3").is_file()
    finally:
        relay.store.close()
