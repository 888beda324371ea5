"""A failed ceremony reported by the browser: audited by kind and error only, answered with
the rule's advice."""

from datetime import UTC, datetime

from broker.rules.ceremony_failures import advice
from broker.services import passkey_failures
from schemas.web_passkeys import CeremonyFailure
from tests.fakes import FakeUnitOfWork

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


class TestRecord:
    async def test_audited_by_kind_and_error_and_answered_with_advice(self) -> None:
        """Before any session: the web's entry, the ceremony and error, the advice back."""
        uow = FakeUnitOfWork()
        failure = CeremonyFailure(ceremony="authentication", error="NotAllowedError")
        told = await passkey_failures.record(uow, failure, None, AT)
        assert told == advice("authentication", "NotAllowedError")
        [(entry, at)] = uow.audit.pending
        assert (entry.action, entry.actor, entry.subject_ref, entry.details, at) == (
            "passkey_ceremony_failed", "web", "passkey",
            {"ceremony": "authentication", "error": "NotAllowedError"}, AT)  # fmt: skip

    async def test_an_enrolments_failure_names_its_contact(self) -> None:
        """From the enrolment page's session: the contact is the actor."""
        uow = FakeUnitOfWork()
        failure = CeremonyFailure(ceremony="registration", error="InvalidStateError")
        await passkey_failures.record(uow, failure, "school-1:key_adult", AT)
        [(entry, _)] = uow.audit.pending
        assert entry.actor == "school-1:key_adult"
