"""Channel-layer group names (ASCII, < 100 chars)."""


def conversation_group(conversation_id: str) -> str:
    """Every socket open on the conversation listens here for its turns' events."""
    return f"conv.{conversation_id}"
