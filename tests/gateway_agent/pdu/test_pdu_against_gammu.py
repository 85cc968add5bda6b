"""Cross-checks with an independent codec: Gammu's, through python-gammu.

Gammu splits, writes and reads PDUs with its own code; where both codecs
agree on random texts, neither is likely to be wrong in the same way.
"""

from __future__ import annotations

from datetime import datetime, timezone

import gammu
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_agent.pdu import CompleteMessage, Reassembler, decode_deliver, encode_status_report, encode_submit
from zimsend_common.segments import split_text, utf16_units

UTC = timezone.utc
# Gammu swaps "~" and U+0001 in Unicode text and ends strings at NUL: no fair test of it.
GAMMU_QUIRKS = "~\x01\x00"
EXTENSION_CHARS = "^{}\\[]|€"
GAMMU_CODING = {"GSM-7": "Default_No_Compression", "UCS-2": "Unicode_No_Compression"}
# Where a part may end next to a combining mark or inside a flag, our rule keeps more together
# than Gammu's (zimsend_common.segments says how): random texts leave those out, and the cases
# where both rules apply are checked one by one below.
MARKS = ("Mn", "Mc", "Me")
REGIONAL_INDICATORS = "".join(chr(code) for code in range(0x1F1E6, 0x1F200))
texts = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters=GAMMU_QUIRKS + REGIONAL_INDICATORS, exclude_categories=MARKS
    )
    | st.sampled_from(EXTENSION_CHARS),
    min_size=1,
    max_size=400,
)


def gammu_parts(text: str) -> list[dict]:
    """The messages Gammu makes of ``text``, in the alphabet our rules pick."""
    unicode = split_text(text).encoding == "UCS-2"
    entry = {"ID": "ConcatenatedTextLong", "Buffer": text}
    return gammu.EncodeSMS({"Class": -1, "Unicode": unicode, "Entries": [entry]})


@settings(deadline=None, max_examples=150)
@given(texts)
def test_gammu_splits_every_text_into_the_same_parts(text):
    split = split_text(text)
    ours = [len(part) if split.encoding == "GSM-7" else sum(map(utf16_units, part)) for part in split.parts]
    assert [message["Length"] for message in gammu_parts(text)] == ours


@pytest.mark.parametrize(
    "text",
    [
        "0" * 67 + "\u0300" + "000",  # the case that once failed at random: Gammu splits 66+5
        "щ" * 67 + "\u0301" + "щ" * 10,
        "0" * 66 + "a\u20dd" + "0" * 9,  # a mark for symbols (U+20D0-20FF)
        "0" * 67 + "\ufe20" + "0",  # a half mark (U+FE20-FE2F)
        "0" * 66 + "\U0001f1ff\U0001f1fc" + "0" * 5,  # a flag across the boundary
    ],
)
def test_gammu_and_we_keep_a_base_character_with_its_mark_and_a_flag_whole(text):
    split = split_text(text)
    ours = [sum(map(utf16_units, part)) for part in split.parts]
    assert [message["Length"] for message in gammu_parts(text)] == ours


@settings(deadline=None, max_examples=150)
@given(text=texts, reference=st.integers(0, 255))
def test_gammu_reads_our_submits_as_written(text, reference):
    parts = encode_submit("+263771234567", text, message_reference=reference, concat_reference=200)
    decoded = [gammu.DecodePDU(bytes.fromhex(part.hex), SMSC=True) for part in parts]
    for part, message in zip(parts, decoded):
        assert (message["Type"], message["Number"]) == ("Submit", "+263771234567")
        assert message["MessageReference"] == reference
        assert message["Coding"] == GAMMU_CODING[split_text(text).encoding]
        if part.total > 1:
            udh = message["UDH"]
            assert (udh["ID8bit"], udh["PartNumber"], udh["AllParts"]) == (200, part.sequence, part.total)
    if len(parts) == 1:
        # Gammu's Text runs on by one filler character per extension character it met.
        assert decoded[0]["Text"][: len(text)] == text
    else:
        [linked] = gammu.LinkSMS([[message] for message in decoded])
        assert gammu.DecodeSMS(linked)["Entries"][0]["Buffer"] == text


@settings(deadline=None, max_examples=150)
@given(text=texts, sender=st.sampled_from(["+263771234567", "0771234567", "MyBank", "Vodafon"]))
def test_we_read_gammu_delivers_as_written(text, sender):
    sent_at = datetime(2026, 11, 27, 15, 30, 5, tzinfo=UTC)
    reassembler = Reassembler()
    complete = []
    for message in gammu_parts(text):
        message.update(
            Type="Deliver",
            Number=sender,
            DateTime=sent_at.replace(tzinfo=None),
            SMSCDateTime=sent_at,
            SMSC={"Location": 0, "Number": "+263770000000"},
            Folder=1,
            InboxFolder=1,
            Memory="SM",
            Location=0,
            Name="",
            State="UnRead",
            DeliveryStatus=0,
            ReplyViaSameSMSC=0,
            MessageReference=0,
            ReplaceMessage=0,
            RejectDuplicates=0,
        )
        deliver = decode_deliver(gammu.EncodePDU(message, "Deliver").hex())
        assert (deliver.sender, deliver.smsc) == (sender, "+263770000000")
        if isinstance(added := reassembler.add(deliver), CompleteMessage):
            complete.append(added)
    [whole] = complete
    assert whole.text == text


def test_gammu_reads_our_status_report():
    taken = datetime(2026, 11, 27, 15, 30, 5, tzinfo=UTC)
    done = datetime(2026, 11, 27, 15, 31, 0, tzinfo=UTC)
    pdu = encode_status_report(42, "+263771234567", taken, done, 0x46)
    report = gammu.DecodePDU(bytes.fromhex(pdu), SMSC=True)
    assert (report["Type"], report["Number"], report["MessageReference"]) == ("Status_Report", "+263771234567", 42)
    assert (report["DeliveryStatus"], report["DateTime"], report["SMSCDateTime"]) == (0x46, taken, done)
