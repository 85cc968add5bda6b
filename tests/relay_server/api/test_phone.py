"""Phone numbers: international input in its usual spellings, E.164 out."""

from __future__ import annotations

import phonenumbers
import pytest

from relay_server.api.phone import InvalidPhoneNumber, normalize


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+33612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+33-6-12-34-56-78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+44 7911 123456", "+447911123456"),
        ("+263 77 123 4567", "+263771234567"),
        (" +33612345678 ", "+33612345678"),
    ],
)
def test_international_numbers_in_usual_spellings_come_out_in_e164(raw, e164):
    assert normalize(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0612345678",
        "33612345678",
        "+33 6 12 34",
        "+33612345678901234",
        "+33abc45678",
        "+33612345678 ext 2",
        "++33612345678",
        "+0612345678",
        "+336123456789" * 6,
    ],
)
def test_numbers_without_country_code_or_outside_the_plan_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize(raw)


@pytest.mark.parametrize("raw", [None, 33612345678, ["+33612345678"]])
def test_values_that_are_not_text_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize(raw)


@pytest.mark.parametrize("region", ["FR", "GB", "US", "ZW", "DE", "IN", "BR"])
def test_every_countrys_example_mobile_number_survives_normalizing_twice(region):
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    international = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    e164 = normalize(international)
    assert e164 == phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert normalize(e164) == e164
