"""The live engine: runs a turn and carries its events, apart from any socket.

In: a `TurnPlan` from `conversations.plans` (model, key, and the request built by
the context builder from the turn's path), handed to `runner.start_runner`, and
`stop`/`resume` requests from the consumer.
Out: numbered turn events (`turn.started`, deltas, one terminal event) to the
sockets of this process (`fanout`), to the per-turn log (`turnlog`, in memory or a
Redis stream) and, with Redis, to other processes (`bus`, `rediswriter`); the
turn's rows, written only through `conversations.actions` (checkpoints by the
`keeper`, final state by the runner, expired leases by `lifecycle`).

Modules: runner (one task per turn), failover (which key next, before the first
token), pump (coalesces, numbers and publishes a turn's events), pacing
(coalescing window), keeper
(checkpoints and leases), fanout (events to sockets), bus + rediswriter (Redis
between processes), turnlog, lifecycle (sweeper, shutdown), db (database
threads), loops (per-event-loop singletons), layers (the in-memory channel layer).
"""
