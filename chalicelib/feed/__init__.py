"""The real-time event feed (issue 4): what the agent console learns by polling ``GET /events``.

Services publish small events ("message.new", "conversation.assigned", "note.mention" …) to one
or more audiences (an agent, a skill group, the supervisors); each agent polls its audiences with
an opaque cursor. See docs/realtime.md for why a cursor feed rather than WebSockets, the protocol,
and what it costs on AWS.
"""
