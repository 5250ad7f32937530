"""Channel-layer group names (ASCII, < 100 chars)."""


def conversation_group(conversation_id: str) -> str:
    """Every socket open on the conversation listens here for its turns' events."""
    return f"conv.{conversation_id}"


def turn_group(turn_id: str) -> str:
    """The runner of the turn listens here, so `stop` sent to any process reaches it."""
    return f"turn.{turn_id}"
