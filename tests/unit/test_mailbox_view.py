"""What a polling client (the website widget, the app) sees of one stored message."""

from __future__ import annotations

from chalicelib.channels import mailbox


def _item(direction: str, author: str | None) -> dict[str, dict[str, str]]:
    item = {
        "conversation_id": {"S": "cnv_1"},
        "seq": {"N": "3"},
        "direction": {"S": direction},
        "text": {"S": "hello"},
        "created_at": {"S": "2026-12-07T10:00:00.000Z"},
    }
    if author:
        item["author_id"] = {"S": author}
    return item


def test_an_automatic_notice_is_marked_so_the_widget_does_not_take_it_for_an_agent():
    for author in ("system", "bot"):
        assert mailbox._view(_item("out", author))["automatic"] is True


def test_an_agent_reply_and_the_customer_message_are_not_marked_and_never_show_the_author():
    agent = mailbox._view(_item("out", "agent1"))
    customer = mailbox._view(_item("in", "cus_1"))
    assert "automatic" not in agent and "automatic" not in customer
    assert "author_id" not in agent and "agent1" not in str(agent)
