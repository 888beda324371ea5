"""Actors of two kinds (broker.rules.actors): a command-line operator and an administrator
organisation never share a name, so the two-person rule on key changes compares like with
like; a bare name recorded before kinds is judged by name alone, never more loosely."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules import actors
from broker.rules.actors import Actor

ORG_IDS = st.from_regex(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$", fullmatch=True)
OPERATOR_NAMES = st.text(min_size=1, max_size=64).filter(
    lambda n: actors.SEPARATOR not in n and n == n.strip() and bool(n)
)
ANY_ACTOR = st.one_of(OPERATOR_NAMES.map(actors.operator), ORG_IDS.map(actors.administrator))


class TestSpelling:
    @pytest.mark.parametrize(
        ("actor", "spelled"),
        [
            (actors.operator("ops-1"), "operator:ops-1"),
            (actors.administrator("la-north"), "admin:la-north"),
            (Actor(None, "la-north"), "la-north"),
        ],
    )
    def test_an_actor_is_spelled_with_its_kind(self, actor: Actor, spelled: str) -> None:
        """Kind, colon, name; a bare name recorded before kinds stays bare."""
        assert str(actor) == spelled

    @pytest.mark.parametrize(
        ("recorded", "actor"),
        [
            ("operator:ops-1", Actor("operator", "ops-1")),
            ("admin:la-north", Actor("admin", "la-north")),
            ("la-north", Actor(None, "la-north")),
            ("ops-1", Actor(None, "ops-1")),
            ("someone:else", Actor(None, "someone:else")),
            ("admin:", Actor(None, "admin:")),
        ],
    )
    def test_a_recorded_spelling_is_read_back(self, recorded: str, actor: Actor) -> None:
        """A known kind and a name, else a bare name of no kind."""
        assert actors.parse(recorded) == actor

    @given(ANY_ACTOR)
    def test_every_actor_reads_back_as_itself(self, actor: Actor) -> None:
        """What is recorded is read back unchanged."""
        assert actors.parse(str(actor)) == actor


class TestOperatorNames:
    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("admin:la-north", "cannot contain ':'"),
            ("operator:ops-1", "cannot contain ':'"),
            ("", "blank"),
            ("  ", "blank"),
            (" ops-1", "padded"),
            ("o" * 65, "64 characters"),
        ],
    )
    def test_a_name_that_could_pass_for_another_is_refused(self, name: str, reason: str) -> None:
        """A name holding the separator would read as another kind; blank or long as no one."""
        with pytest.raises(actors.UnfitOperatorName, match=reason):
            actors.operator(name)

    def test_a_plain_name_is_an_operator(self) -> None:
        """An OS user name or a chosen one is accepted as it is."""
        assert actors.operator("jane.smith") == Actor("operator", "jane.smith")


class TestSameActor:
    @pytest.mark.parametrize(
        ("recorded", "acting", "same"),
        [
            ("admin:la-north", actors.administrator("la-north"), True),
            ("admin:la-north", actors.operator("la-north"), False),
            ("operator:ops-1", actors.operator("ops-1"), True),
            ("operator:ops-1", actors.administrator("ops-1"), False),
            ("operator:ops-1", actors.operator("ops-2"), False),
            ("la-north", actors.administrator("la-north"), True),
            ("la-north", actors.operator("la-north"), True),
            ("la-north", actors.administrator("la-south"), False),
        ],
    )
    def test_the_requester_is_recognised(self, recorded: str, acting: Actor, same: bool) -> None:
        """Kind and name must match; a bare name matches either kind of that name."""
        assert actors.same(actors.parse(recorded), acting) is same

    @given(OPERATOR_NAMES, ORG_IDS)
    def test_no_operator_is_an_administrator(self, name: str, org_id: str) -> None:
        """Whatever the names, an operator and an administrator are different actors,
        spelled differently, and neither is taken for the other's requester."""
        operator, administrator = actors.operator(name), actors.administrator(org_id)
        assert operator != administrator
        assert str(operator) != str(administrator)
        assert not actors.same(actors.parse(str(operator)), administrator)
        assert not actors.same(actors.parse(str(administrator)), operator)

    @given(ANY_ACTOR, ANY_ACTOR)
    def test_a_bare_name_is_never_looser_than_its_kinded_spelling(
        self, requester: Actor, acting: Actor
    ) -> None:
        """Whoever a typed record counts as its requester, the bare name counts too: dropping
        the kind can only widen who is refused approval, never narrow it."""
        if actors.same(requester, acting):
            assert actors.same(Actor(None, requester.name), acting)
