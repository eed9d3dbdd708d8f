"""Assignment (C3): agents' presence and capacity, queues per skill group and channel type, and
who takes the next conversation — the available agent with the most spare capacity, ties to the
longest idle; urgent and VIP conversations first; exactly one owner under any concurrency."""
