"""OTP codes, their keyed MAC and the SMS text around them (relay_server.api.otp_codes)."""

from __future__ import annotations

import stat
import threading

import pytest

from relay_server.api import otp_codes as otp
from zimsend_common.config import RelaySettings, Secret


@pytest.mark.parametrize("length", range(otp.MIN_LENGTH, otp.MAX_LENGTH + 1))
def test_a_code_is_that_many_decimal_digits(length):
    codes = [otp.new_code(length) for _ in range(200)]
    assert all(len(code) == length and code.isdigit() for code in codes)


def test_codes_use_every_digit_in_every_position_leading_zeros_included():
    codes = [otp.new_code(4) for _ in range(2000)]
    for position in range(4):
        assert {code[position] for code in codes} == set("0123456789")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Votre code : {{code}}", "Votre code : 042817"),
        ("Code {code}.", "Code 042817."),
        ("{{ code }}/{{code}}/{code}", "042817/042817/042817"),
    ],
)
def test_render_puts_the_code_at_every_placeholder_of_either_form(template, expected):
    assert otp.has_placeholder(template)
    assert otp.render(template, "042817") == expected


@pytest.mark.parametrize("template", ["Votre code", "{{cod}}", "{ code }", "{{ code }", "{CODE}", ""])
def test_a_template_without_a_placeholder_is_recognised(template):
    assert not otp.has_placeholder(template)


def test_the_masked_text_shows_as_many_asterisks_as_digits():
    assert otp.masked("Code {{code}} ({code})", 6) == "Code ****** (******)"


def test_the_mac_depends_on_the_key_the_otp_and_the_code():
    base = otp.code_mac(b"k" * 32, "otp_0000000000000001", "123456")
    assert len(base) == 64 and "123456" not in base
    assert otp.code_mac(b"k" * 32, "otp_0000000000000001", "123456") == base
    assert otp.code_mac(b"j" * 32, "otp_0000000000000001", "123456") != base
    assert otp.code_mac(b"k" * 32, "otp_0000000000000002", "123456") != base
    assert otp.code_mac(b"k" * 32, "otp_0000000000000001", "123457") != base


def test_without_a_configured_secret_the_key_is_made_once_in_a_private_file(tmp_path):
    settings = RelaySettings(data_dir=tmp_path / "data")
    keys: list[bytes] = []
    start = threading.Barrier(4)

    def load() -> None:
        start.wait()
        keys.append(otp.otp_key(settings))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    key_file = tmp_path / "data" / otp.KEY_FILE
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert key_file.read_bytes().strip() == keys[0]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(path.name for path in key_file.parent.iterdir()) == [otp.KEY_FILE]


def test_a_configured_secret_is_the_key_and_no_file_is_made(tmp_path):
    settings = RelaySettings(data_dir=tmp_path / "data", otp_secret=Secret("shared by every relay"))
    assert otp.otp_key(settings) == b"shared by every relay"
    assert not (tmp_path / "data").exists()
