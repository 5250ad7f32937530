class ClientError(Exception):
    """A request the user can fix: becomes an `error` frame (socket) or a 4xx (HTTP)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Busy(ClientError):
    def __init__(self) -> None:
        super().__init__("busy", "A turn of this conversation is still running; stop it or wait.")
