"""Which kinds of organisation may publish which events."""

import pytest

from broker.rules.authorisation import may_publish
from broker.rules.family import OrgKind
from schemas.events import EventType


class TestMayPublish:
    @pytest.mark.parametrize("kind", list(OrgKind))
    def test_only_acute_trusts_report_ed_attendances(self, kind: OrgKind) -> None:
        """An emergency department attendance comes from an acute trust or nobody."""
        assert may_publish(kind, EventType.ED_ATTENDANCE) is (kind is OrgKind.ACUTE_TRUST)

    @pytest.mark.parametrize("kind", list(OrgKind))
    def test_any_service_may_announce_its_withdrawal(self, kind: OrgKind) -> None:
        """Every kind of service can say it is withdrawing."""
        assert may_publish(kind, EventType.SERVICE_WITHDRAWAL)

    @pytest.mark.parametrize(
        ("kind", "allowed"),
        [(OrgKind.MENTAL_HEALTH, True), (OrgKind.POLICE, True), (OrgKind.GP_PRACTICE, True),
         (OrgKind.ACUTE_TRUST, True), (OrgKind.SCHOOL, False), (OrgKind.HOUSING, False)],
    )  # fmt: skip
    def test_who_reports_a_parent_in_crisis(self, kind: OrgKind, allowed: bool) -> None:
        """Crisis teams, liaison psychiatry, police and GPs report a parent in crisis."""
        assert may_publish(kind, EventType.PARENT_MENTAL_HEALTH_CRISIS) is allowed

    @pytest.mark.parametrize(
        ("kind", "allowed"),
        [(OrgKind.FRONT_DOOR, True), (OrgKind.HOUSING, True), (OrgKind.SCHOOL, True),
         (OrgKind.ACUTE_TRUST, False), (OrgKind.POLICE, False)],
    )  # fmt: skip
    def test_who_reports_a_family_moving(self, kind: OrgKind, allowed: bool) -> None:
        """Local authorities, schools, GPs and housing report a family moving area."""
        assert may_publish(kind, EventType.FAMILY_MOVING_AREA) is allowed

    @pytest.mark.parametrize("kind", list(OrgKind))
    def test_only_police_report_a_domestic_abuse_incident(self, kind: OrgKind) -> None:
        """Operation Encompass: a police-attended domestic abuse incident comes from the
        police or nobody."""
        allowed = may_publish(kind, EventType.POLICE_DOMESTIC_ABUSE_INCIDENT)
        assert allowed is (kind is OrgKind.POLICE)

    @pytest.mark.parametrize("kind", list(OrgKind))
    def test_only_maternity_books_a_pregnancy(self, kind: OrgKind) -> None:
        """A pregnancy booking or concern comes from maternity services or nobody."""
        allowed = may_publish(kind, EventType.PREGNANCY_NOTIFICATION)
        assert allowed is (kind is OrgKind.MATERNITY)

    def test_unknown_organisation_may_publish_nothing(self) -> None:
        """An organisation the directory does not know may publish no event at all."""
        assert not any(may_publish(None, event_type) for event_type in EventType)
