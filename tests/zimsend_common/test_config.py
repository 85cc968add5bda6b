from pathlib import Path

import pytest

from zimsend_common.config import SECTIONS, ConfigError, load_settings


def test_defaults_apply_without_file_or_environment():
    settings = load_settings(environ={"ZIMSEND_CONFIG": ""})
    assert settings.relay.rate_limit_per_minute == 100
    assert settings.relay.retention_days == 90
    assert settings.agent.backend == "emulator"


def test_environment_overrides_file(tmp_path: Path):
    config = tmp_path / "zimsend.toml"
    config.write_text('[relay]\ndatabase_url = "sqlite:///from-file.db"\nhttp_port = 6000\n')
    settings = load_settings(config, environ={"ZIMSEND_DATABASE_URL": "sqlite:///from-env.db"})
    assert settings.relay.database_url == "sqlite:///from-env.db"
    assert settings.relay.http_port == 6000


def test_default_database_is_sqlite_file_in_data_dir(tmp_path: Path):
    settings = load_settings(environ={"ZIMSEND_DATA_DIR": str(tmp_path)})
    assert settings.relay.resolved_database_url() == f"sqlite:///{tmp_path}/zimsend.sqlite3"


def test_bad_value_is_a_config_error_naming_the_setting():
    with pytest.raises(ConfigError, match="http_port"):
        load_settings(environ={"ZIMSEND_HTTP_PORT": "not-a-port"})


def test_unknown_setting_in_file_is_refused(tmp_path: Path):
    config = tmp_path / "zimsend.toml"
    config.write_text("[relay]\nno_such_setting = 1\n")
    with pytest.raises(ConfigError, match="no_such_setting"):
        load_settings(config, environ={})


def test_every_setting_name_is_unique_across_sections():
    names = [name for model in SECTIONS.values() for name in model.__struct_fields__]
    assert len(names) == len(set(names))


def test_sms_languages_come_from_a_toml_list_or_a_comma_separated_variable(tmp_path: Path):
    config = tmp_path / "zimsend.toml"
    config.write_text('[sms]\nsms_languages = ["tr", "ES"]\n')
    assert load_settings(config, environ={}).sms.sms_languages == ("tr", "es")
    assert load_settings(environ={"ZIMSEND_SMS_LANGUAGES": "pt, hi"}).sms.sms_languages == ("pt", "hi")
    assert load_settings(environ={}).sms.sms_languages == ()


def test_sms_languages_in_a_toml_list_are_read_as_freely_as_in_a_variable(tmp_path: Path):
    config = tmp_path / "zimsend.toml"
    config.write_text('[sms]\nsms_languages = [" tr", "ES ", ""]\n')
    assert load_settings(config, environ={}).sms.sms_languages == ("tr", "es")
    config.write_text('[sms]\nsms_languages = [" TR ", "  "]\n')
    assert load_settings(config, environ={}).sms.sms_languages == ("tr",)


def test_a_language_without_a_national_table_is_refused_by_name():
    with pytest.raises(ConfigError, match="no national language table for \\['fr'\\]"):
        load_settings(environ={"ZIMSEND_SMS_LANGUAGES": "tr,fr"})


@pytest.mark.parametrize(("written", "read"), [("yes", True), ("On", True), ("1", True), ("true", True), ("no", False)])
def test_a_yes_or_no_setting_takes_the_words_people_write(written: str, read: bool):
    assert load_settings(environ={"ZIMSEND_METRICS_ALLOW_REMOTE": written}).relay.metrics_allow_remote is read


def test_a_yes_or_no_setting_refuses_any_other_word_by_name():
    with pytest.raises(ConfigError, match="metrics_allow_remote"):
        load_settings(environ={"ZIMSEND_METRICS_ALLOW_REMOTE": "maybe"})


def test_webhook_retry_delays_come_from_a_comma_separated_variable(tmp_path: Path):
    settings = load_settings(environ={"ZIMSEND_WEBHOOK_RETRY_DELAYS_SECONDS": "10, 60,600"})
    assert settings.relay.webhook_retry_delays_seconds == (10.0, 60.0, 600.0)
    config = tmp_path / "zimsend.toml"
    config.write_text("[relay]\nwebhook_retry_delays_seconds = [5, 50]\n")
    assert load_settings(config, environ={}).relay.webhook_retry_delays_seconds == (5.0, 50.0)


def test_a_negative_retry_delay_is_refused_by_name():
    with pytest.raises(ConfigError, match="webhook_retry_delays_seconds"):
        load_settings(environ={"ZIMSEND_WEBHOOK_RETRY_DELAYS_SECONDS": "60,-1"})


def test_a_section_that_is_not_a_table_is_refused_by_name(tmp_path: Path):
    config = tmp_path / "zimsend.toml"
    config.write_text("relay = 5\n")
    with pytest.raises(ConfigError, match="relay"):
        load_settings(config, environ={})


def test_no_password_pin_or_key_shows_in_the_settings():
    secrets = {
        "DEVICE_PASSWORD": "dev-pass-1",
        "SIM_PIN": "4321",
        "SMSGATE_PASSWORD": "phone-pass-2",
        "OTP_SECRET": "otp-key-3",
        "CONSOLE_SECRET": "console-key-4",
    }
    settings = load_settings(environ={f"ZIMSEND_{name}": value for name, value in secrets.items()})
    shown = repr(settings) + str(settings)
    assert not [value for value in secrets.values() if value in shown]
    read = (settings.agent.device_password, settings.agent.sim_pin, settings.smsgate.smsgate_password)
    assert [secret.get_secret_value() for secret in read] == ["dev-pass-1", "4321", "phone-pass-2"]
    assert not load_settings(environ={}).agent.sim_pin  # none set


@pytest.mark.parametrize(
    ("section", "line", "name"), [("agent", "sim_pin = 1234", "sim_pin"), ("relay", "data_dir = 5", "data_dir")]
)
def test_a_pin_or_a_path_written_as_a_number_is_refused_by_name(tmp_path: Path, section: str, line: str, name: str):
    config = tmp_path / "zimsend.toml"
    config.write_text(f"[{section}]\n{line}\n")
    with pytest.raises(ConfigError, match=name):
        load_settings(config, environ={})


def test_a_bad_value_says_whether_a_variable_or_the_file_gave_it(tmp_path: Path):
    config = tmp_path / "zimsend.toml"
    config.write_text('[relay]\nhttp_port = "not-a-port"\n')
    with pytest.raises(ConfigError, match=r"http_port.*\(set in .*zimsend\.toml\)"):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match=r"max_body_bytes.*\(set by ZIMSEND_MAX_BODY_BYTES\)"):
        load_settings(config, environ={"ZIMSEND_HTTP_PORT": "5040", "ZIMSEND_MAX_BODY_BYTES": "ten"})


def test_a_bad_value_a_tables_own_check_refuses_says_whether_a_variable_or_the_file_gave_it(tmp_path: Path):
    config = tmp_path / "zimsend.toml"
    config.write_text('[sms]\nsms_languages = ["xx"]\n')
    with pytest.raises(ConfigError, match=r"no national language table.*\(set in .*zimsend\.toml\)"):
        load_settings(config, environ={})
    config.write_text("[relay]\nhttp_port = 5040\n")
    with pytest.raises(ConfigError, match=r"no national language table.*\(set by ZIMSEND_SMS_LANGUAGES\)"):
        load_settings(config, environ={"ZIMSEND_SMS_LANGUAGES": "xx"})


def test_an_empty_variable_is_an_unset_one(tmp_path: Path):
    settings = load_settings(
        environ={"ZIMSEND_CONFIG": "", "ZIMSEND_DATA_DIR": "", "ZIMSEND_RATE_LIMIT_PER_MINUTE": ""}
    )
    assert settings.relay.data_dir == Path("./data")
    assert settings.relay.rate_limit_per_minute == 100


def test_the_daily_send_limit_is_none_by_default_and_a_number_of_parts_from_a_variable(tmp_path: Path):
    assert load_settings(environ={"ZIMSEND_CONFIG": ""}).agent.daily_send_limit == 0
    config = tmp_path / "zimsend.toml"
    config.write_text("[agent]\ndaily_send_limit = 200\n")
    assert load_settings(config, environ={}).agent.daily_send_limit == 200
    assert load_settings(config, environ={"ZIMSEND_DAILY_SEND_LIMIT": "150"}).agent.daily_send_limit == 150


@pytest.mark.parametrize("written", ["-1", "many", "1.5"])
def test_a_daily_send_limit_that_is_no_count_of_parts_is_refused_by_name(written: str):
    with pytest.raises(ConfigError, match="daily_send_limit.*ZIMSEND_DAILY_SEND_LIMIT"):
        load_settings(environ={"ZIMSEND_CONFIG": "", "ZIMSEND_DAILY_SEND_LIMIT": written})


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://zimsend:p%40ss@redis.example.org:6380/2",
        "redis://[::1]:6379",
        "redis://localhost",
        "unix:///run/redis/redis.sock?db=1",
    ],
)
def test_a_redis_url_redis_reads_is_taken_as_written(url: str):
    assert load_settings(environ={"ZIMSEND_REDIS_URL": url}).relay.redis_url == url


@pytest.mark.parametrize(
    "url",
    [
        "notaurl",
        "http://127.0.0.1:6379/0",
        "redis://zimsend:s3cret-word@127.0.0.1:notaport/0",
        "redis://zimsend:s3cret-word@127.0.0.1:70000/0",
        "redis://zimsend:s3cret-word@127.0.0.1:0/0",
        "redis://zimsend:s3cret-word@[::1:6379/0",
    ],
)
def test_a_redis_url_redis_cannot_read_is_refused_by_name_and_never_shown(url: str):
    with pytest.raises(ConfigError, match=r"redis_url.*\(set by ZIMSEND_REDIS_URL\)") as refused:
        load_settings(environ={"ZIMSEND_REDIS_URL": url})
    assert "s3cret-word" not in str(refused.value)
