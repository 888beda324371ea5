"""A school's high-severity notice goes to its key adult and deputy together: as a table and
as a property over decisions of every type, severity and role."""

from hypothesis import given
from hypothesis import strategies as st

from broker.rules.family import Addressee, ContactRole, Decision
from broker.rules.school_deputy import is_deputy_copy, key_adult_of, with_deputies
from schemas.notices import NoticeType, Severity

SCHOOL = "school-oakfield"


def to(role: ContactRole, severity: Severity, kind: NoticeType = NoticeType.SCHOOL_SUPPORT
       ) -> Decision:  # fmt: skip
    return Decision(Addressee(SCHOOL, role), kind, severity, "crisis.child", ("kid",),
                    {"child_present": True})  # fmt: skip


class TestWithDeputies:
    def test_a_high_notice_to_the_key_adult_also_goes_to_the_deputy(self) -> None:
        key_adult = to(ContactRole.KEY_ADULT, Severity.HIGH)
        assert with_deputies([key_adult]) == [key_adult, to(ContactRole.DEPUTY_KEY_ADULT,
                                                            Severity.HIGH)]  # fmt: skip

    def test_a_medium_notice_goes_to_the_key_adult_alone(self) -> None:
        """The deputy hears of it only if the key adult lets it lapse."""
        medium = to(ContactRole.KEY_ADULT, Severity.MEDIUM)
        assert with_deputies([medium]) == [medium]

    def test_the_deputy_s_copy_knows_its_key_adult_s_notice(self) -> None:
        key_adult, deputy = with_deputies([to(ContactRole.KEY_ADULT, Severity.HIGH)])
        assert is_deputy_copy(deputy)
        assert key_adult_of(deputy) == key_adult

    @given(decisions=st.lists(st.builds(
        to, st.sampled_from(list(ContactRole)), st.sampled_from(list(Severity)),
        st.sampled_from(list(NoticeType)))))  # fmt: skip
    def test_each_high_key_adult_notice_gains_exactly_one_deputy_copy(
        self, decisions: list[Decision]
    ) -> None:
        told = with_deputies(decisions)
        added = len(told) - len(decisions)
        high_key_adult = [d for d in decisions if d.severity is Severity.HIGH
                          and d.notice_type is NoticeType.SCHOOL_SUPPORT
                          and d.addressee.role is ContactRole.KEY_ADULT]  # fmt: skip
        assert added == len(high_key_adult)
        assert all(d in told for d in decisions)
        copies = [d for d in told if d not in decisions]
        assert all(key_adult_of(c) in high_key_adult for c in copies)
