"""Which kinds of organisation may publish which events."""

import pytest

from broker.rules.authorisation import SERVICES, may_publish
from broker.rules.family import OrgKind
from schemas.events import EventType


class TestMayPublish:
    @pytest.mark.parametrize("kind", list(OrgKind))
    def test_only_emergency_and_urgent_care_report_attendances(self, kind: OrgKind) -> None:
        """An ED-type attendance comes from an acute trust's emergency department, an urgent
        treatment or walk-in centre, or NHS 111, or from nobody."""
        ed_type = {OrgKind.ACUTE_TRUST, OrgKind.URGENT_CARE, OrgKind.NHS_111}
        assert may_publish(kind, EventType.ED_ATTENDANCE) is (kind in ed_type)

    @pytest.mark.parametrize(
        ("kind", "allowed"),
        [(OrgKind.GP_PRACTICE, True), (OrgKind.HEALTH_VISITING, True), (OrgKind.SCHOOL, True),
         (OrgKind.ACUTE_TRUST, True), (OrgKind.POLICE, False), (OrgKind.NHS_111, False)],
    )  # fmt: skip
    def test_who_reports_an_appointment_outcome(self, kind: OrgKind, allowed: bool) -> None:
        """Health services, GP practices and nurseries report whether a child was brought."""
        assert may_publish(kind, EventType.APPOINTMENT_OUTCOME) is allowed

    @pytest.mark.parametrize("kind", sorted(SERVICES))
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
    @pytest.mark.parametrize("event_type", [EventType.ATTENDANCE_CONCERN,
                                            EventType.CHILD_MISSING_EDUCATION,
                                            EventType.ELECTIVE_HOME_EDUCATION])  # fmt: skip
    def test_only_schools_and_the_education_service_report_education(
        self, kind: OrgKind, event_type: EventType
    ) -> None:
        """Attendance, a child missing education and home education come from a school or
        nursery, or the local authority's education service, or nobody."""
        allowed = kind in (OrgKind.SCHOOL, OrgKind.EDUCATION_SERVICE)
        assert may_publish(kind, event_type) is allowed

    @pytest.mark.parametrize("kind", sorted(SERVICES))
    def test_any_practitioner_may_record_a_contact(self, kind: OrgKind) -> None:
        """Every kind of service records its contacts and lateral checks with others."""
        assert may_publish(kind, EventType.AGENCY_CONTACT)

    @pytest.mark.parametrize("kind", list(OrgKind))
    def test_only_maternity_books_a_pregnancy(self, kind: OrgKind) -> None:
        """A pregnancy booking or concern comes from maternity services or nobody."""
        allowed = may_publish(kind, EventType.PREGNANCY_NOTIFICATION)
        assert allowed is (kind is OrgKind.MATERNITY)

    def test_unknown_organisation_may_publish_nothing(self) -> None:
        """An organisation the directory does not know may publish no event at all."""
        assert not any(may_publish(None, event_type) for event_type in EventType)


class TestPeerBrokers:
    @pytest.mark.parametrize("event_type", list(EventType))
    def test_a_peer_broker_publishes_only_the_moves_it_transfers(
        self, event_type: EventType
    ) -> None:
        """A peer broker is no service: a family moving in is all it may report here."""
        expected = event_type is EventType.FAMILY_MOVING_AREA
        assert may_publish(OrgKind.PEER_BROKER, event_type) is expected
