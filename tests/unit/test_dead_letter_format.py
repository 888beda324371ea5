"""The dead-letter record format: replayable letters round-trip; older ones are readable."""

import json
from datetime import UTC, datetime

from broker.adapters.dead_letter_topic import Source, dead_letter, parse

FAILED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class TestDeadLetterFormat:
    def test_a_letter_keeps_the_original_and_says_why_and_where_from(self) -> None:
        """Value and key are the original's; reason, origin and time travel in headers."""
        message = dead_letter("sgb.dead-letters", "k1", b"\x00sealed", {"reason": "X"},
                              Source("sgb.events", 4, 17), FAILED)  # fmt: skip
        letter = parse(1, 9, message.key.encode(), message.value, message.headers)
        assert (letter.value, letter.key, letter.position) == (b"\x00sealed", "k1", "1/9")
        assert (letter.reason_name, letter.source) == ("X", Source("sgb.events", 4, 17))
        assert letter.first_failed_at == FAILED
        assert letter.replayable

    def test_an_older_letter_is_listed_but_not_replayable(self) -> None:
        """A letter whose value is only its reason (no original) cannot be replayed."""
        value = json.dumps({"reason": "no_recipient_contact", "org_id": "gp-1"}).encode()
        letter = parse(0, 3, b"k", value, [])
        assert (letter.reason_name, letter.replayable) == ("no_recipient_contact", False)

    def test_an_unreadable_older_letter_has_an_unknown_reason(self) -> None:
        """Whatever lies in the topic, listing it never fails."""
        assert parse(0, 0, None, b"\xff", []).reason_name == "unknown"

    def test_a_position_names_topic_partition_and_offset(self) -> None:
        """Positions are written topic/partition/offset, as the router records them."""
        assert Source.parse("t-1.notices/5/120") == Source("t-1.notices", 5, 120)
