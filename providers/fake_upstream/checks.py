"""The provider's own refusals: 404 routes, DeepSeek's 401, bad JSON, replayed reasoning,
and (opt-in) each preset's parameter rules.

`refusal` answers a request before any script is used; `replays_reasoning` is the
check real R1-era chat APIs and Ark's Responses API make on what a client sends back.
`rule_refusal` is what a preset's provider says to parameters it does not take
(`FakeUpstream.rules = "<preset name>"`, or `--rules` on the dev server).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _is_think_prefill(item: dict[str, Any], *, last: bool) -> bool:
    # A final partial assistant message is a prefill the model continues (Ark's
    # continuation mode), not a replay: "<think>\n" there asks R1 to think.
    return last and item.get("role") == "assistant" and item.get("content") == "<think>\n"


def replays_reasoning(items: Any, *, responses: bool = False) -> bool:
    """Whether messages (chat) or input items (responses) carry reasoning back."""
    if not isinstance(items, list):
        return False
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if _is_think_prefill(item, last=position == len(items) - 1):
            continue
        if "reasoning_content" in item or "reasoning" in item:
            return True
        if responses and item.get("type") == "reasoning":
            return True
        if item.get("role") == "assistant" and _mentions_think(item.get("content")):
            return True
    return False


def _unauthorized(headers: dict[str, str]) -> Script:
    """DeepSeek's 401 for a missing or wrong key."""
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


def refusal(
    method: str,
    path: str,
    headers: dict[str, str],
    data: Any,
    valid_json: bool,
    api_key: str | None,
    listed_models: Sequence[str] = ("fake-model",),
) -> Script | None:
    """The answer a real provider would give instead of streaming; None: serve a script."""
    is_chat = path.endswith("/chat/completions")
    is_responses = path.endswith("/responses")
    key_ok = api_key is None or headers.get("authorization") == f"Bearer {api_key}"
    if method == "GET" and path.endswith("/models"):
        if not key_ok:  # the models list checks the key too (the admin's connection test)
            return _unauthorized(headers)
        listed = [{"id": m, "object": "model", "owned_by": "fake"} for m in listed_models]
        return error_response(200, {"object": "list", "data": listed})
    if method != "POST" or not (is_chat or is_responses):
        return error_response(404, {"error": {"message": f"No route for {method} {path}"}})
    if not key_ok:
        return _unauthorized(headers)
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


# -- each preset's parameter rules (opt-in) ----------------------------------------

# Reasoning models refuse these (DeepSeek, Ark's R1, Qianfan, new-api gateways).
REJECTED_PARAMS = ("logprobs", "top_logprobs", "logit_bias")
ARK_EFFORTS = ("minimal", "low", "medium", "high")
# DeepSeek's thinking guide: `reasoning_effort` is low, high or max; it also takes
# minimal (as low), medium and xhigh (as high) and ultra (as max). Anything else is a 400.
DEEPSEEK_EFFORTS = ("minimal", "low", "medium", "high", "xhigh", "max", "ultra")
# Qianfan v2's `thinking` (deepseek-v4.1-flash): enabled or disabled.
QIANFAN_THINKING = ("enabled", "disabled")

# Which provider's rules a preset's requests meet (vllm: none, it takes anything).
RULES_OF_PRESET = {
    "deepseek": "deepseek",
    "ark": "ark",
    "ark-responses": "ark",
    "ark-bots": "ark",
    "qianfan": "qianfan",
    "coreshub": "gateway",
    "new-api": "gateway",
}


def deepseek_error(message: str, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": "invalid_request_error",
        }
    }


def ark_error(param: str, why: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "InvalidParameter",
            "message": f"The parameter `{param}` specified in the request is not valid: {why}.",
            "param": param,
            "type": "BadRequest",
        }
    }


def _thinking_type(data: dict[str, Any]) -> Any:
    thinking = data.get("thinking")
    return thinking.get("type") if isinstance(thinking, dict) else thinking


def rule_refusal(rules: str, path: str, data: Any) -> Script | None:
    """The 400 the provider behind preset `rules` gives a request that breaks its
    parameter rules; None when the request is fine (or the preset has no rules)."""
    family = RULES_OF_PRESET.get(rules)
    if family is None or not isinstance(data, dict):
        return None
    responses = path.endswith("/responses")
    for param in REJECTED_PARAMS:
        if param in data:
            if family == "ark":
                return error_response(400, ark_error(param, "the model does not support it"))
            return error_response(
                400, deepseek_error(f"This model does not support the parameter {param}.", param)
            )
    thinking = _thinking_type(data)
    if family == "deepseek":
        # The fake is stricter than DeepSeek here (which defaults to enabled): the
        # preset promises that every request says which mode it wants.
        if thinking not in ("enabled", "disabled"):
            return error_response(
                400,
                deepseek_error(
                    "thinking.type must be 'enabled' or 'disabled' (the fake upstream's "
                    "deepseek rules require it on every request).",
                    "thinking",
                ),
            )
        effort = data.get("reasoning_effort")
        if effort is not None and thinking == "disabled":
            return error_response(
                400,
                deepseek_error(
                    "reasoning_effort is only supported in thinking mode.", "reasoning_effort"
                ),
            )
        if effort is not None and effort not in DEEPSEEK_EFFORTS:
            return error_response(
                400,
                deepseek_error(
                    f"Invalid reasoning_effort {effort!r}: expected 'low', 'high' or 'max'.",
                    "reasoning_effort",
                ),
            )
    if family == "qianfan" and thinking is not None and thinking not in QIANFAN_THINKING:
        return error_response(
            400,
            deepseek_error(
                f"Invalid thinking.type {thinking!r}: expected 'enabled' or 'disabled'.",
                "thinking",
            ),
        )
    if family == "ark":
        if thinking is not None and thinking not in ("enabled", "disabled", "auto"):
            return error_response(400, ark_error("thinking.type", f"unknown value {thinking!r}"))
        reasoning = data.get("reasoning")
        effort, param = (
            (reasoning.get("effort") if isinstance(reasoning, dict) else None, "reasoning.effort")
            if responses
            else (data.get("reasoning_effort"), "reasoning_effort")
        )
        if effort is not None and effort not in ARK_EFFORTS:
            return error_response(400, ark_error(param, f"unknown value {effort!r}"))
        if thinking == "disabled" and effort not in (None, "minimal"):
            return error_response(
                400, ark_error(param, "with thinking disabled the effort must be minimal")
            )
    return None
