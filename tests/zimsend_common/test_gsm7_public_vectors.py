"""libosmocore's sms_test 7-bit vectors through our packing, and with a header through the
PDU decoder. Origin in tests/support/vectors/libosmocore_sms_test.json."""

from __future__ import annotations

import pytest
from public_vectors import load

from gateway_agent.pdu import decode_deliver
from zimsend_common.gsm7 import from_septets, pack_septets, septet_length, to_septets, unpack_septets

OSMOCOM = load("libosmocore_sms_test")
# SMSC +263770000001, DELIVER with TP-UDHI, sender +263772222222, PID 0, DCS 0, a time stamp.
HEAD = "07916273070000F1" + "44" + "0C91623727222222" + "00" + "00" + "62211090030000"


@pytest.mark.parametrize("vector", OSMOCOM["packed"], ids=lambda vector: vector["text"][:16])
def test_texts_pack_to_libosmocores_octets_and_back(vector):
    septets = to_septets(vector["text"])
    assert septet_length(vector["text"]) == len(septets) == vector["septets"]
    assert pack_septets(septets).hex().upper() == vector["octets"]
    assert from_septets(unpack_septets(bytes.fromhex(vector["octets"]), vector["septets"])) == vector["text"]


@pytest.mark.parametrize("vector", OSMOCOM["with_header"], ids=lambda vector: f"part {vector['concat'][2]}")
def test_concatenated_parts_read_as_libosmocore_wrote_them(vector):
    deliver = decode_deliver(HEAD + f"{vector['septets_with_header']:02X}" + vector["user_data"])
    assert deliver.text == vector["text"]
    assert [deliver.concat.reference, deliver.concat.total, deliver.concat.sequence] == vector["concat"]
