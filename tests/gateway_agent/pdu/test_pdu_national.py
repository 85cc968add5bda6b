"""National language shift elements in the user data header (TS 23.040 9.2.3.24.15/16):
read always, written when the operator's languages save parts."""

from __future__ import annotations

from public_vectors import load

from gateway_agent.pdu import decode_deliver, decode_submit, encode_submit
from zimsend_common.gsm7 import ESCAPE, pack_septets

ANDROID = load("android_gsm_sms_test")
# SMSC +263770000001, DELIVER with UDHI, sender +263772222222, PID 0, DCS 0, 2026-12-01 09:30:00 UTC.
HEAD = "07916273070000F1" + "44" + "0C91623727222222" + "00" + "00" + "62211090030000"


def _deliver(septets: list[int], element: int, language: int) -> str:
    header = bytes((3, element, 1, language))  # UDHL 3: one shift element; 4 octets, then 3 fill bits
    header_septets, fill = 5, 3
    body = pack_septets(septets, fill)
    return HEAD + f"{header_septets + len(septets):02X}" + (header + body).hex().upper()


def _single_shift_septets(text: str, language: str) -> list[int]:
    table = ANDROID["single_shift"][language]
    shifted = dict(zip(table["characters"], table["codes"]))
    default = ANDROID["locking_tables"]["0"]
    return [s for char in text for s in ((default.index(char),) if char in default else (ESCAPE, shifted[char]))]


def test_a_turkish_single_shift_message_reads_right():
    deliver = decode_deliver(_deliver(_single_shift_septets("Şeker ğüzel ıslak", "1"), 0x24, 1))
    assert deliver.text == "Şeker ğüzel ıslak"


def test_a_spanish_single_shift_message_reads_right():
    deliver = decode_deliver(_deliver(_single_shift_septets("Información útil", "2"), 0x24, 2))
    assert deliver.text == "Información útil"


def test_a_turkish_locking_shift_message_reads_right():
    table = ANDROID["locking_tables"]["1"]
    deliver = decode_deliver(_deliver([table.index(char) for char in "Işık ğüneş çiçek"], 0x25, 1))
    assert deliver.text == "Işık ğüneş çiçek"


def test_a_portuguese_locking_shift_message_reads_right():
    table = ANDROID["locking_tables"]["3"]
    deliver = decode_deliver(_deliver([table.index(char) for char in "Ação e coração"], 0x25, 3))
    assert deliver.text == "Ação e coração"


def test_an_unknown_language_reads_with_the_default_tables():
    deliver = decode_deliver(_deliver(_single_shift_septets("plain", "0"), 0x24, 99))
    assert deliver.text == "plain"


def test_a_submit_names_the_table_it_uses_and_reads_back():
    text = next(f["text"] for f in ANDROID["turkish_fragments"] if f["characters"] == 77)
    [part] = encode_submit("+263771234567", text, languages=("tr",))
    assert part.hex[2:4] == "61"  # SMS-SUBMIT with TP-UDHI and TP-SRR
    assert "03240101" in part.hex  # UDHL 3, element 0x24, length 1, Turkish
    assert decode_submit(part.hex).text == text


def test_a_long_submit_carries_concatenation_and_shift_elements_in_every_part():
    text = "ĞŞİğşı" * 30
    parts = encode_submit("+263771234567", text, languages=("tr",), concat_reference=7)
    assert len(parts) == 2
    for number, part in enumerate(parts, start=1):
        # UDHL 8: concatenation (reference 7, 2 parts, this one), then the Turkish locking shift.
        assert f"08000307020{number}250101" in part.hex
    assert "".join(decode_submit(part.hex).text for part in parts) == text
