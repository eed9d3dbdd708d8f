"""The bot and self-service (C5): first contact where routing says ``bot_first`` — answers from the
knowledge base, multi-turn flows declared as data, one-step handoff with a summary, outcomes
counted per day. See ``service.py``."""
