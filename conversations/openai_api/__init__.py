"""The OpenAI-compatible API under `/v1/`: another door into the chat's turn path.

A request is authenticated by a personal token (accounts/tokens.py), translated in
(`parse`: OpenAI's request, checked before any work starts), planned by
`conversations.plans.prepare_api_turn` (the chat's access check, options, quota,
admission and context builder), run by the chat's runner (failover, checkpoints,
storage, the turn log) and followed like a socket follows a turn (`feed`), then
translated out (`chunks`: `chat.completion.chunk` events or one `chat.completion`).
`errors` holds OpenAI's error shape and the mapping from the chat's errors;
`completions` is `POST /v1/chat/completions` (a plain ASGI app), `views` holds
`GET /v1/models` and the token-and-plan step the completions run on a database thread.
"""
