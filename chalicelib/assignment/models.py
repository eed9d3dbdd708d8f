"""The ``queues`` table: per queue ("<group>#<channel type>") a ``stats`` item of counters and one
seat per member agent. See infra/data.yaml for why the seats make assignment cost constant."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection

from chalicelib.db import Model, meta

STATS = "stats"


class _ByAvailability(GlobalSecondaryIndex["QueueItem"]):
    class Meta:
        index_name = "by_availability"
        projection = IncludeProjection(["agent_id"])

    avail_key = UnicodeAttribute(hash_key=True)
    avail_rank = UnicodeAttribute(range_key=True)


class QueueItem(Model):
    Meta = meta("queues")

    queue_key = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)  # "stats" | "agent#<agent id>"
    # seats
    agent_id = UnicodeAttribute(null=True)
    proficiency = NumberAttribute(null=True)
    avail_key = UnicodeAttribute(null=True)  # = queue_key while the agent can take one more
    avail_rank = UnicodeAttribute(null=True)  # most spare capacity first, then longest idle
    rev = NumberAttribute(null=True)  # the agent's rev this seat reflects (stale writes lose)
    # stats
    waiting = NumberAttribute(null=True)
    online = NumberAttribute(null=True)
    handled = NumberAttribute(null=True)
    handle_seconds = NumberAttribute(null=True)

    by_availability = _ByAvailability()


def seat_item(agent_id: str) -> str:
    return f"agent#{agent_id}"
