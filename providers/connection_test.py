"""The admin's "Test connection": call a provider with each of its enabled keys.

Chat completions: `GET {base_url}/models` (DeepSeek, vLLM, new-api and OpenAI all
have it); where that route does not exist (404/405), and for the responses style,
a one-token request to the provider's first model through the real streaming
client, read up to its first event. Either way: the base URL must pass
providers/outbound.py (http(s), an allowed host), redirects are not followed (a
redirect is reported as the base URL's mistake; the key is not sent on), and each
call is bounded by UPSTREAM_TEST_TIMEOUT. Errors are the streaming clients' own
(`error_from_response`), in their plain words; keys never appear in a result.

Sync callers (the admin action) use `test_providers`; it runs the calls at once
on an event loop of its own, in a thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from providers.clients import ClientConfig, Message, ProviderError, StreamRequest, client_for
from providers.models import ApiKey, ApiStyle, ChatModel, Provider
from providers.outbound import problem
from providers.wire import BAD_URL, CONNECT_FAILED, UNAVAILABLE, error_from_response

NO_MODEL = _(
    "The provider has no models list and no model to send a test request to. Add a model first."
)


@dataclass(frozen=True)
class Target:
    """What one call needs, read from the database before any I/O."""

    provider: Provider
    key: ApiKey
    secret: str
    model_id: str | None


@dataclass(frozen=True)
class Result:
    provider: Provider
    key: ApiKey
    ok: bool
    latency_ms: int | None = None
    via_models_list: bool = False  # else a one-token request to `model_id`
    model_id: str | None = None
    error: ProviderError | None = None


def targets(provider: Provider) -> list[Target]:
    keys = provider.api_keys.filter(enabled=True).order_by(*ApiKey.TRY_ORDER)
    model = (
        ChatModel.objects.filter(provider=provider)
        .order_by("-enabled", "model_id")
        .values_list("model_id", flat=True)
        .first()
    )
    return [Target(provider, key, key.secret(), model) for key in keys]


def _session() -> aiohttp.ClientSession:
    bound = settings.UPSTREAM_TEST_TIMEOUT
    timeout = aiohttp.ClientTimeout(
        total=bound, connect=min(settings.UPSTREAM_CONNECT_TIMEOUT, bound), sock_read=bound
    )
    # No proxies or .netrc from the environment, as for the streams (clients/http.py).
    return aiohttp.ClientSession(timeout=timeout, trust_env=False, raise_for_status=False)


async def _models_list(target: Target, http: aiohttp.ClientSession) -> int | None:
    """GET /models: its status when the route is missing (404/405), else None (2xx)."""
    secret = target.secret
    url = target.provider.base_url.rstrip("/") + "/models"
    headers = {"Accept": "application/json", "Authorization": f"Bearer {target.secret}"}
    async with http.get(url, headers=headers, allow_redirects=False) as response:
        body = await response.read()
        if 200 <= response.status < 300:
            return None
        if response.status in (404, 405):
            return response.status
        raise error_from_response(response.status, body, lambda s: s.replace(secret, "***"))


async def _one_token(target: Target, http: aiohttp.ClientSession) -> None:
    """A one-token request through the real client, read up to its first event."""
    config = ClientConfig(target.provider.base_url, target.secret)
    client = client_for(target.provider.style, config, http)
    # The responses API's smallest max_output_tokens is 16.
    small = 16 if target.provider.style == ApiStyle.RESPONSES else 1
    assert target.model_id is not None
    request = StreamRequest(
        model=target.model_id, messages=[Message("user", "Hi")], max_tokens=small
    )
    events = client.stream(request)
    try:
        async for _event in events:
            break  # an answer has begun: the key and the model work
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def _test(target: Target, http: aiohttp.ClientSession) -> Result:
    provider, key = target.provider, target.key
    started = time.monotonic()
    via_models = False
    try:
        async with asyncio.timeout(settings.UPSTREAM_TEST_TIMEOUT):
            if provider.style == ApiStyle.CHAT_COMPLETIONS:
                via_models = await _models_list(target, http) is None
            if not via_models:
                if target.model_id is None:
                    raise ProviderError(
                        "The provider has no models list and no model to send a request to.",
                        plain=NO_MODEL,
                    )
                await _one_token(target, http)
    except ProviderError as exc:
        return Result(provider, key, False, error=exc, model_id=target.model_id)
    except TimeoutError:
        error = ProviderError(
            f"No answer within {settings.UPSTREAM_TEST_TIMEOUT:g} seconds.", plain=UNAVAILABLE
        )
        return Result(provider, key, False, error=error, model_id=target.model_id)
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        error = ProviderError(f"The base URL is not usable: {exc}", plain=BAD_URL)
        return Result(provider, key, False, error=error, model_id=target.model_id)
    except aiohttp.ClientError as exc:  # GET /models: connect errors, resets
        error = ProviderError(f"Could not connect to the provider: {exc}", plain=CONNECT_FAILED)
        return Result(provider, key, False, error=error, model_id=target.model_id)
    latency = round((time.monotonic() - started) * 1000)
    return Result(provider, key, True, latency, via_models, target.model_id)


async def _test_all(all_targets: list[Target]) -> list[Result]:
    async with _session() as http:
        return list(await asyncio.gather(*(_test(t, http) for t in all_targets)))


def run(all_targets: list[Target]) -> list[Result]:
    """Test every target at once; on a loop of its own (the caller may have one)."""
    if not all_targets:
        return []
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="connection-test") as pool:
        return pool.submit(asyncio.run, _test_all(all_targets)).result()


@dataclass(frozen=True)
class Skipped:
    """A provider not called at all, and why (plain words, for the admin)."""

    provider: Provider
    reason: Any  # a lazy translated sentence


def test_providers(providers: list[Provider]) -> tuple[list[Result], list[Skipped]]:
    """Call each provider with each of its enabled keys; providers that cannot be
    called (the offline demo, a refused base URL, no enabled key) are `Skipped`."""
    todo: list[Target] = []
    skipped: list[Skipped] = []
    for provider in providers:
        if provider.style == ApiStyle.DEMO:
            skipped.append(Skipped(provider, _("the offline demo has nothing to connect to.")))
            continue
        error = problem(provider.base_url)
        if error is not None:
            skipped.append(Skipped(provider, error.messages[0]))
            continue
        found = targets(provider)
        if not found:
            skipped.append(Skipped(provider, _("it has no enabled key to test.")))
        todo += found
    return run(todo), skipped
