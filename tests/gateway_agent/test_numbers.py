import pytest

from gateway_agent.numbers import same_number


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("+263771234567", "263771234567", True),
        ("+263771234567", "0771234567", True),
        ("+263771234567", "+263771234568", False),
        ("+263771234567", "", False),
    ],
)
def test_numbers_match_across_international_and_national_spellings(a, b, same):
    assert same_number(a, b) is same
