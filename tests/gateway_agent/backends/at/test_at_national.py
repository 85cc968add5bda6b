"""National language tables end to end over a real pty: a Turkish text leaves in one part
with Turkish enabled, and Turkish or Spanish texts written with shift tables arrive intact."""

from __future__ import annotations

from at_support import next_event_of

from gateway_agent.modem import IncomingMessage

TURKISH_77 = "ĞŞİğşı" * 12 + "ĞŞİğş"  # Android's GsmSmsTest, testFragmentTurkishText


def test_a_77_character_turkish_text_leaves_in_one_part_with_turkish_enabled(emulator, make_modem) -> None:
    modem = make_modem(emulator, languages=("tr",))
    assert modem.send("+263771234567", TURKISH_77).parts == 1
    assert emulator.sent[-1].text == TURKISH_77


def test_without_turkish_enabled_the_same_text_takes_two_ucs2_parts(emulator, modem) -> None:
    assert modem.send("+263771234567", TURKISH_77).parts == 2
    assert emulator.sent[-1].text == TURKISH_77


def test_texts_written_with_shift_tables_arrive_intact(emulator, modem) -> None:
    for text, languages in (("Şeker ğüzel ıslak", ("tr",)), ("Información útil", ("es",)), ("ĞŞİğşı" * 30, ("tr",))):
        emulator.inject_incoming("+263772222222", text, languages=languages)
        assert next_event_of(modem, IncomingMessage).text == text
