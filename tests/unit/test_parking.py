"""What the dead-letter collector stores of a parked message, whatever bytes it brought."""
from shared.bus.parking import as_text, describe


def test_a_body_with_nul_and_undecodable_bytes_becomes_storable_text():
    body = b"\x00\x9f not an event"
    assert as_text(body) == "\ufffd\ufffd not an event"
    assert describe(body, "message-id") == ("message-id", "?")


def test_a_nul_spelled_in_json_does_not_reach_the_id_or_type():
    event_id, event_type = describe('{"id": "a\\u0000b", "type": "x\\u0000"}')
    assert "\x00" not in event_id + event_type
    assert event_id == "a\ufffdb"


def test_an_unnamed_body_is_named_by_its_digest():
    event_id, event_type = describe(b"garbage")
    assert event_id.startswith("sha256:") and event_type == "?"
