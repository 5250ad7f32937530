"""The provider's own refusals: 404 routes, DeepSeek's 401, bad JSON, replayed reasoning.

`refusal` answers a request before any script is used; `replays_reasoning` is the
check real R1-era chat APIs and Ark's Responses API make on what a client sends back.
"""

from __future__ import annotations

from typing import Any

from providers.fake_upstream.frames import Script, error_response

REPLAYED_CHAT = {
    "error": {
        "message": "The reasoning_content is an intermediate result for display purposes only "
        "and will not be included in the context for inference. Please remove the "
        "reasoning_content from your input.",
        "type": "invalid_request_error",
        "code": "invalid_request_error",
    }
}
REPLAYED_RESPONSES = {
    "error": {
        "code": "InvalidParameter",
        "message": "The parameter `input` specified in the request is not valid: "
        "reasoning content must not be passed back.",
        "param": "input",
        "type": "BadRequest",
    }
}


def _mentions_think(content: Any) -> bool:
    if isinstance(content, str):
        return "<think>" in content
    if isinstance(content, list):
        return any(
            isinstance(part, dict) and "<think>" in str(part.get("text") or "") for part in content
        )
    return False


def replays_reasoning(items: Any, *, responses: bool = False) -> bool:
    """Whether messages (chat) or input items (responses) carry reasoning back."""
    if not isinstance(items, list):
        return False
    for item in items:
        if not isinstance(item, dict):
            continue
        if "reasoning_content" in item or "reasoning" in item:
            return True
        if responses and item.get("type") == "reasoning":
            return True
        if item.get("role") == "assistant" and _mentions_think(item.get("content")):
            return True
    return False


def refusal(
    method: str,
    path: str,
    headers: dict[str, str],
    data: Any,
    valid_json: bool,
    api_key: str | None,
) -> Script | None:
    """The answer a real provider would give instead of streaming; None: serve a script."""
    is_chat = path.endswith("/chat/completions")
    is_responses = path.endswith("/responses")
    if method == "GET" and path.endswith("/models"):
        return error_response(200, {"object": "list", "data": [{"id": "fake-model"}]})
    if method != "POST" or not (is_chat or is_responses):
        return error_response(404, {"error": {"message": f"No route for {method} {path}"}})
    if api_key is not None and headers.get("authorization") != f"Bearer {api_key}":
        given = headers.get("authorization", "").removeprefix("Bearer ").strip()
        masked = f"****{given[-4:]}"
        return error_response(
            401,
            {
                "error": {
                    "message": f"Authentication Fails, Your api key: {masked} is invalid",
                    "type": "authentication_error",
                    "code": "invalid_api_key",
                }
            },
        )
    if not valid_json or not isinstance(data, dict):
        return error_response(
            400,
            {
                "error": {
                    "message": "The request body is not valid JSON.",
                    "type": "invalid_request_error",
                    "code": "invalid_request_error",
                }
            },
        )
    if is_chat and replays_reasoning(data.get("messages")):
        return error_response(400, REPLAYED_CHAT)
    if is_responses and replays_reasoning(data.get("input"), responses=True):
        return error_response(400, REPLAYED_RESPONSES)
    return None
