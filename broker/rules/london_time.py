"""Times as a reader in England or Wales reads them: London wall-clock time, never UTC.
Pure. (Others read ``deadlines.LONDON`` for the zone; this words a moment for a body.)"""

from datetime import datetime

from broker.rules.deadlines import LONDON


def london(moment: datetime) -> str:
    """ "Mon 2 Sep 2027, 08:45": the day named, so that "before Monday" cannot be misread."""
    local = moment.astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"
