"""Joining the parts of incoming messages in whatever order they come."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_agent.pdu import CompleteMessage, PartOutcome, Reassembler, decode_deliver, encode_deliver, reserve

UTC = timezone.utc
SENT = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 15, 1, tzinfo=UTC)
EXTENSION_CHARS = "^{}\\[~]|€"
WAITING, ALREADY_JOINED = PartOutcome.WAITING, PartOutcome.ALREADY_JOINED


def parts_of(text: str, sender: str = "+263771234567", reference: int = 5, sent: datetime = SENT):
    return [decode_deliver(pdu) for pdu in encode_deliver(sender, text, sent, concat_reference=reference)]


def nothing_waits(reassembler: Reassembler) -> bool:
    """Whether no message is left waiting for parts: giving up on all now hands none back."""
    return reassembler.expire(timedelta(0), NOW) == []


def test_single_part_message_comes_straight_back():
    [part] = parts_of("hello")
    message = Reassembler().add(part, NOW)
    assert (message.sender, message.text, message.parts, message.missing) == ("+263771234567", "hello", 1, ())
    assert message.service_centre_time == SENT


def test_parts_out_of_order_give_the_whole_text_once_the_last_arrives():
    text = "".join(f"{n:04d} " for n in range(80))
    first, second, third = parts_of(text)
    reassembler = Reassembler()
    assert reassembler.add(third, NOW) is WAITING
    assert reassembler.add(first, NOW) is WAITING
    message = reassembler.add(second, NOW)
    assert (message.text, message.parts) == (text, 3)
    assert nothing_waits(reassembler)


def test_a_repeated_part_waits_with_its_message_and_after_completion_is_named_a_copy():
    first, second = parts_of("y" * 200)
    reassembler = Reassembler()
    assert reassembler.add(first, NOW) is WAITING
    assert reassembler.add(first, NOW) is WAITING  # the network resent it: taken once
    assert reassembler.add(second, NOW).text == "y" * 200
    assert reassembler.add(second, NOW) is ALREADY_JOINED  # the network resent it
    assert reassembler.add(first, NOW) is ALREADY_JOINED
    assert nothing_waits(reassembler)


def test_a_repeated_single_part_message_is_ignored_but_not_a_new_one():
    [part] = parts_of("same words")
    [later] = parts_of("same words", sent=SENT + timedelta(minutes=1))
    reassembler = Reassembler()
    assert reassembler.add(part, NOW).text == "same words"
    assert reassembler.add(part, NOW) is ALREADY_JOINED
    assert reassembler.add(later, NOW).text == "same words"


def test_duplicates_are_forgotten_after_the_remember_window():
    [part] = parts_of("hello")
    reassembler = Reassembler(remember=timedelta(minutes=5))
    assert reassembler.add(part, NOW).text == "hello"
    assert reassembler.add(part, NOW + timedelta(minutes=6)).text == "hello"


def test_same_reference_from_two_senders_does_not_mix():
    a1, a2 = parts_of("a" * 200, sender="+111")
    b1, b2 = parts_of("b" * 200, sender="+222")
    reassembler = Reassembler()
    assert reassembler.add(a1, NOW) is WAITING
    assert reassembler.add(b2, NOW) is WAITING
    assert reassembler.add(a2, NOW).text == "a" * 200
    assert reassembler.add(b1, NOW).text == "b" * 200


def test_two_messages_under_one_reference_from_one_sender_both_come_whole():
    # Bulk senders often use one fixed reference: the second message's first part comes before the first's last.
    a1, a2 = parts_of("a" * 200, sender="BANK", reference=0)
    b1, b2 = parts_of("b" * 200, sender="BANK", reference=0)
    reassembler = Reassembler()
    assert reassembler.add(a1, NOW) is WAITING
    assert reassembler.add(b1, NOW) is WAITING  # the same as a1 in all but content: a second message
    assert reassembler.add(a2, NOW).text == "a" * 200
    assert reassembler.add(b2, NOW).text == "b" * 200
    assert nothing_waits(reassembler)


def test_expire_returns_what_arrived_with_the_gaps_named():
    text = "".join(f"{n:04d} " for n in range(80))
    first, _, third = parts_of(text)
    reassembler = Reassembler()
    reassembler.add(first, NOW)
    reassembler.add(third, NOW)
    assert reassembler.expire(timedelta(minutes=10), NOW + timedelta(minutes=9)) == []
    [partial] = reassembler.expire(timedelta(minutes=10), NOW + timedelta(minutes=10))
    assert partial.missing == (2,)
    assert partial.parts == 2
    assert partial.text == first.text + third.text
    assert nothing_waits(reassembler)


def test_giving_up_on_the_oldest_waiting_message_returns_it_with_its_gaps_and_keeps_the_rest():
    old_first, _, old_third = parts_of("".join(f"{n:04d} " for n in range(80)), reference=1)
    direct_first, _ = parts_of("d" * 200, reference=2)
    new_first, _ = parts_of("n" * 200, reference=3)
    reassembler = Reassembler()
    reassembler.add(direct_first, NOW - timedelta(minutes=2))
    reassembler.add(old_first, NOW - timedelta(minutes=1))
    reassembler.add(new_first, NOW)
    reassembler.add(old_third, NOW)
    # The oldest message of all is passed over: none of its parts is among those asked for.
    given_up = reassembler.give_up_oldest(lambda part: part is not direct_first)
    assert given_up is not None
    assert (given_up.text, given_up.missing) == (old_first.text + old_third.text, (2,))
    assert given_up.received_at == NOW - timedelta(minutes=1)
    assert reassembler.give_up_oldest().text == "d" * 153
    assert reassembler.give_up_oldest().text == "n" * 153
    assert reassembler.give_up_oldest() is None


def test_a_fifth_of_a_memory_and_at_least_three_slots_are_kept_free_of_waiting_parts():
    assert [reserve(size) for size in (1, 3, 10, 20, 30, 50, 255)] == [1, 3, 3, 4, 6, 10, 51]


def test_a_surrogate_pair_split_by_a_foreign_phone_is_joined_whole():
    # Another phone may cut "😀" (D83D DE00) between two UCS-2 parts; decoded alone each half is broken.
    header = "050003" + "77" + "02"
    pdus = [
        "00" + "44" + "0491" + "2143" + "0008" + "62117251035000" + "08" + header + "01" + "D83D",
        "00" + "44" + "0491" + "2143" + "0008" + "62117251035000" + "08" + header + "02" + "DE00",
    ]
    reassembler = Reassembler()
    assert reassembler.add(decode_deliver(pdus[0]), NOW) is WAITING
    assert reassembler.add(decode_deliver(pdus[1]), NOW).text == "😀"


@settings(deadline=None, max_examples=100)
@given(
    texts=st.lists(
        st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(EXTENSION_CHARS), max_size=500),
        min_size=1,
        max_size=4,
    ),
    data=st.data(),
)
def test_interleaved_shuffled_and_repeated_parts_give_each_message_once(texts, data):
    parts = []
    for index, text in enumerate(texts):
        parts += parts_of(text, sender=f"+2637700000{index}", reference=index)
    arrivals = data.draw(st.permutations(parts + data.draw(st.lists(st.sampled_from(parts), max_size=5))))
    reassembler = Reassembler()
    completed = [message for part in arrivals if isinstance(message := reassembler.add(part, NOW), CompleteMessage)]
    assert sorted((m.sender, m.text) for m in completed) == sorted(
        (f"+2637700000{index}", text) for index, text in enumerate(texts)
    )
    assert nothing_waits(reassembler)
