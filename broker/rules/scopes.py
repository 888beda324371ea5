"""What an organisation's access token lets it do: scopes by kind of organisation. Pure.

Every organisation publishes events (which types is the publishing table's business) and
reads its own recipients' notices; only local authority front doors see chronologies and the
matching queue; only the partnership's administrators change the directory.
"""

from broker.rules.family import OrgKind

PUBLISH = "events:publish"
READ_NOTICES = "notices:read"
FRONT_DOOR = "front-door"
ADMIN = "directory:admin"


def scopes_for(kind: OrgKind, is_administrator: bool) -> frozenset[str]:
    scopes = {PUBLISH, READ_NOTICES}
    if kind is OrgKind.FRONT_DOOR:
        scopes.add(FRONT_DOOR)
    if is_administrator:
        scopes.add(ADMIN)
    return frozenset(scopes)
