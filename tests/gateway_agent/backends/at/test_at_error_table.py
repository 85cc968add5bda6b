"""Modem error numbers and texts mapped to names, the temporary flag and the contract's failure codes."""

from __future__ import annotations

import pytest

from gateway_agent.backends.at.error_table import CME_ERRORS, CMS_ERRORS, command_error, is_error_result
from zimsend_common.failures import FailureCode


@pytest.mark.parametrize("code", [1, 8, 10, 21, 27, 28, 38, 41, 42, 47, 50, 96, 111, *range(300, 333), 500])
def test_every_required_cms_number_has_a_meaning(code: int) -> None:
    error = command_error(f"+CMS ERROR: {code}", "AT+CMGS=20")
    assert error.code == code
    assert error.name
    assert isinstance(error.failure, FailureCode)


@pytest.mark.parametrize("code", [3, 4, *range(10, 19), 30, 31, 32, 100])
def test_every_required_cme_number_is_in_the_table(code: int) -> None:
    assert code in CME_ERRORS
    assert command_error(f"+CME ERROR: {code}", "AT+CPIN?").name == CME_ERRORS[code].name


def test_the_verbose_text_form_means_the_same_as_the_number() -> None:
    by_text = command_error("+CMS ERROR: SMSC address unknown", "AT+CMGS=20")
    by_number = command_error("+CMS ERROR: 330", "AT+CMGS=20")
    assert (by_text.code, by_text.failure, by_text.temporary) == (330, by_number.failure, by_number.temporary)
    assert command_error("+CME ERROR: SIM busy", "AT+CMGF=0").code == 14


def test_numbers_missing_from_the_table_take_their_ranges_meaning() -> None:
    network = command_error("+CMS ERROR: 11", "AT+CMGS=20")
    assert (network.failure, network.temporary) == (FailureCode.NETWORK_ERROR, True)
    vendor = command_error("+CMS ERROR: 545", "AT+CMGS=20")
    assert vendor.failure == FailureCode.DEVICE_ERROR
    assert 11 not in CMS_ERRORS and 545 not in CMS_ERRORS


def test_a_plain_error_has_no_number_and_is_not_retried() -> None:
    error = command_error("ERROR", "AT+CMGS=20")
    assert (error.kind, error.code, error.temporary) == ("ERROR", None, False)
    assert error.failure == FailureCode.DEVICE_ERROR


def test_an_unknown_verbose_text_is_kept_as_the_errors_name() -> None:
    error = command_error("+CMS ERROR: Frobnicator jammed", "AT+CMGS=20")
    assert error.code is None and error.name == "Frobnicator jammed"


# The 23 numbers of 27.007 §9.2 that were once read as "manufacturer specific".
STANDARD_CME = [24, 25, 26, *range(40, 48), 103, 106, 107, 111, 112, 113, 132, 133, 134, 148, 149, 150]


@pytest.mark.parametrize("code", STANDARD_CME)
def test_every_standard_cme_number_has_its_standard_name(code: int) -> None:
    error = command_error(f"+CME ERROR: {code}", "AT+CPIN?")
    assert error.name == CME_ERRORS[code].name
    assert "manufacturer" not in error.name


@pytest.mark.parametrize("code", [*range(40, 48), 12, 18])
def test_a_lock_only_a_person_can_lift_is_not_temporary(code: int) -> None:
    # +CME ERROR: 40 is a network-locked modem: no retry unlocks it.
    assert command_error(f"+CME ERROR: {code}", "AT+CMGF=0").temporary is False


def test_the_verbose_form_of_a_personalisation_error_is_understood() -> None:
    error = command_error("+CME ERROR: network personalization PIN required", "AT+CMGF=0")
    assert (error.code, error.temporary) == (40, False)


def test_modem_error_is_a_final_result_with_its_number() -> None:
    assert is_error_result("MODEM ERROR: 3")
    error = command_error("MODEM ERROR: 3", "AT+CMGS=20")
    assert (error.kind, error.code, error.name) == ("MODEM ERROR", 3, "manufacturer specific error")
    assert "MODEM ERROR: 3" in str(error)


@pytest.mark.parametrize("code", [17, 22, 129, 130, 145, 161, 175])
def test_the_rest_of_the_standard_cms_numbers_are_named(code: int) -> None:
    assert command_error(f"+CMS ERROR: {code}", "AT+CMGS=20").name not in ("network error", "service centre error")


def test_final_error_lines_are_recognised_and_others_are_not() -> None:
    assert all(map(is_error_result, ["ERROR", "+CMS ERROR: 500", "+CME ERROR: 14", "NO CARRIER"]))
    assert not any(map(is_error_result, ["OK", "+CMGS: 5", "ERRORS: 0"]))
