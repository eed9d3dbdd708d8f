"""Who may see and act on a conversation: agents see their skill groups' conversations and their
own; supervisors and admins see all."""

from __future__ import annotations

from chalicelib.agents import service as agents
from chalicelib.auth.service import Forbidden, Principal
from chalicelib.conversations.models import Conversation


def check_access(p: Principal, c: Conversation) -> None:
    if p.allows("supervisor") or c.assignee_id == p.agent_id:
        return
    if c.group_id not in agents.groups_of(p.agent_id):
        raise Forbidden("this conversation belongs to another skill group")
