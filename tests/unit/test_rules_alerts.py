"""Alerts: their wording (whose inbox, by when, nothing of the notice) and when an
unacknowledged notice is alerted again."""

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.alerts import (
    ROLE_WORDS,
    AlertFacts,
    Trigger,
    alert_text,
    day_words,
    due_words,
    notice_link,
    reminder_at,
    worth_sending,
)
from broker.rules.deadlines import LONDON
from broker.rules.family import ContactRole

SCHOOL_START = time(8, 45)
FRIDAY_3PM = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # London is on GMT in December
MONDAY_0845 = datetime(2026, 12, 7, 8, 45, tzinfo=UTC)
LINK = "https://inbox.example.org/inbox/notices/6f1c"
moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
gaps = st.timedeltas(min_value=timedelta(minutes=-3000), max_value=timedelta(days=20))


def facts(trigger: Trigger = Trigger.NEW_NOTICE, **kw: object) -> AlertFacts:
    values: dict[str, object] = {"trigger": trigger, "org_name": "Oakfield Primary School",
              "role": "key_adult", "deadline": MONDAY_0845, "session_start": SCHOOL_START,
              "link": LINK}  # fmt: skip
    values.update(kw)
    return AlertFacts(**values)  # type: ignore[arg-type]


class TestAlertText:
    def test_the_brief_s_example(self) -> None:
        """A school's key adult on a Friday reads the brief's own sentence, then the link."""
        assert alert_text(facts(), FRIDAY_3PM) == (
            "A safeguarding notice is waiting for Oakfield Primary School (key adult), due "
            f"before school on Monday at 08:45.\n{LINK}"
        )

    @pytest.mark.parametrize(
        ("trigger", "opening"),
        [
            (Trigger.NEW_NOTICE, "A safeguarding notice is waiting for Oakfield"),
            (Trigger.ESCALATION, "A safeguarding notice has been escalated to Oakfield"),
            (Trigger.DEADLINE_APPROACHING, "A safeguarding notice for Oakfield Primary School "
             "(key adult) is still waiting to be acknowledged"),
        ],
    )  # fmt: skip
    def test_each_trigger_has_its_opening(self, trigger: Trigger, opening: str) -> None:
        """A new notice, an escalation and a reminder each say which they are."""
        assert alert_text(facts(trigger), FRIDAY_3PM).startswith(opening)

    def test_every_role_has_words(self) -> None:
        """Every contact role is named in plain words, never as its code."""
        assert set(ROLE_WORDS) == set(ContactRole)
        assert all("_" not in words for words in ROLE_WORDS.values())

    @given(st.sampled_from(list(Trigger)), moments, gaps, st.sampled_from(list(ContactRole)))
    def test_says_only_whose_inbox_by_when_and_where(
        self, trigger: Trigger, now: datetime, gap: timedelta, role: ContactRole
    ) -> None:
        """Whatever the trigger, time and role, the text is its opening, the due time and
        the link: nothing else can find its way in."""
        text = alert_text(facts(trigger, role=role, deadline=now + gap), now)
        first, link = text.split("\n")
        assert link == LINK
        assert "Oakfield Primary School" in first
        assert first.endswith(f"at {(now + gap).astimezone(LONDON):%H:%M}.")


class TestDueWords:
    @pytest.mark.parametrize(
        ("deadline", "start", "now", "words"),
        [
            (MONDAY_0845, SCHOOL_START, FRIDAY_3PM, "due before school on Monday at 08:45"),
            (MONDAY_0845, SCHOOL_START, datetime(2026, 12, 6, 18, tzinfo=UTC),
             "due before school tomorrow at 08:45"),
            (MONDAY_0845, SCHOOL_START, datetime(2026, 12, 7, 6, 45, tzinfo=UTC),
             "due before school today at 08:45"),
            (MONDAY_0845, None, FRIDAY_3PM, "due on Monday at 08:45"),
            (datetime(2026, 12, 4, 19, tzinfo=UTC), None, FRIDAY_3PM, "due today at 19:00"),
            (datetime(2026, 12, 14, 9, tzinfo=UTC), None, FRIDAY_3PM, "due on Mon 14 Dec at 09:00"),
            (datetime(2026, 12, 3, 17, tzinfo=UTC), None, FRIDAY_3PM,
             "overdue since yesterday at 17:00"),
            # British Summer Time: 07:45 UTC is 08:45 in London.
            (datetime(2027, 6, 7, 7, 45, tzinfo=UTC), SCHOOL_START,
             datetime(2027, 6, 6, 17, tzinfo=UTC), "due before school tomorrow at 08:45"),
        ],
    )  # fmt: skip
    def test_words_the_deadline_in_london_time(
        self, deadline: datetime, start: time | None, now: datetime, words: str
    ) -> None:
        """The due time is London's, its day in words, "before school" for a school's start."""
        assert due_words(deadline, start, now) == words

    def test_a_week_ahead_is_dated_not_named(self) -> None:
        """Seven days ahead has the same weekday as today: it is dated, so it cannot be misread."""
        day = FRIDAY_3PM.date()
        assert day_words(day + timedelta(days=7), day) == "on Fri 11 Dec"


class TestReminderAt:
    @pytest.mark.parametrize(
        ("created", "deadline", "school", "expected"),
        [
            # A school's morning deadline: the evening before, if the notice came earlier.
            (FRIDAY_3PM, MONDAY_0845, True, datetime(2026, 12, 6, 18, tzinfo=UTC)),
            # Came after that evening: two hours before school starts.
            (datetime(2026, 12, 6, 22, tzinfo=UTC), MONDAY_0845, True,
             datetime(2026, 12, 7, 6, 45, tzinfo=UTC)),
            # Not a school: two hours before.
            (FRIDAY_3PM, MONDAY_0845, False, datetime(2026, 12, 7, 6, 45, tzinfo=UTC)),
            (datetime(2026, 12, 4, 10, tzinfo=UTC), datetime(2026, 12, 4, 14, tzinfo=UTC), False,
             datetime(2026, 12, 4, 12, tzinfo=UTC)),
            # Within two hours of its deadline already: its first alert is the only one.
            (datetime(2026, 12, 4, 13, tzinfo=UTC), datetime(2026, 12, 4, 14, tzinfo=UTC), False,
             None),
            # A school's afternoon deadline is not a morning one.
            (datetime(2026, 12, 4, 9, tzinfo=UTC), datetime(2026, 12, 4, 15, tzinfo=UTC), True,
             datetime(2026, 12, 4, 13, tzinfo=UTC)),
        ],
    )  # fmt: skip
    def test_the_first_reminder_after_the_notice_came(
        self, created: datetime, deadline: datetime, school: bool, expected: datetime | None
    ) -> None:
        """The evening before a school's morning deadline, else two hours before."""
        assert reminder_at(created, deadline, school) == expected

    @given(moments, gaps, st.booleans())
    def test_always_between_the_notice_and_its_deadline(
        self, created: datetime, gap: timedelta, school: bool
    ) -> None:
        """A reminder, when there is one, comes after the notice and before its deadline."""
        reminder = reminder_at(created, created + gap, school)
        assert reminder is None or created < reminder < created + gap


class TestWorthSending:
    @pytest.mark.parametrize(
        ("trigger", "now", "answered", "worth"),
        [
            (Trigger.DEADLINE_APPROACHING, datetime(2026, 12, 7, 6, 45, tzinfo=UTC), False, True),
            (Trigger.DEADLINE_APPROACHING, datetime(2026, 12, 7, 6, 45, tzinfo=UTC), True, False),
            (Trigger.DEADLINE_APPROACHING, MONDAY_0845, False, False),
            (Trigger.NEW_NOTICE, FRIDAY_3PM, False, True),
            (Trigger.NEW_NOTICE, FRIDAY_3PM, True, False),
            (Trigger.NEW_NOTICE, MONDAY_0845 + timedelta(hours=1), False, True),
            (Trigger.ESCALATION, MONDAY_0845 + timedelta(hours=1), False, True),
        ],
    )
    def test_until_answered_and_reminders_until_the_deadline(
        self, trigger: Trigger, now: datetime, answered: bool, worth: bool
    ) -> None:
        """No alert once the notice is answered; no reminder once its deadline has passed."""
        assert worth_sending(trigger, MONDAY_0845, answered, now) is worth


class TestNoticeLink:
    def test_the_inbox_notice_page(self) -> None:
        """The link is the inbox's notice page, however the base URL ends."""
        assert notice_link("https://inbox.example.org/", "abc") == (
            "https://inbox.example.org/inbox/notices/abc"
        )
