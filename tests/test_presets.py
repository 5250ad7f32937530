"""Provider presets: `add_provider --preset` / `--list-presets`, the admin's "start
from preset" and "Import models", and each preset's request against the fake
upstream with that provider's parameter rules switched on."""

from __future__ import annotations

import io
import json
import urllib.request
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command

from providers import presets
from providers.fake_upstream import FakeUpstream
from providers.model_import import import_models
from providers.models import ChatModel, Provider
from tests.conftest import TEST_API_KEY
from tests.helpers import run_turn, texts

NAMES = ["deepseek", "ark", "ark-responses", "ark-bots", "qianfan", "coreshub", "new-api", "vllm"]
REJECTED = ("logprobs", "top_logprobs", "logit_bias")


def add_provider(*args: str) -> str:
    out = io.StringIO()
    call_command("add_provider", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def key_env(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PRESET_KEY", TEST_API_KEY)
    return "PRESET_KEY"


def models_of(name: str) -> dict[str, ChatModel]:
    return {m.model_id: m for m in ChatModel.objects.filter(provider__name=name)}


# --- add_provider --------------------------------------------------------------


def test_list_presets_prints_a_name_a_tab_and_a_description():
    lines = add_provider("--list-presets").splitlines()
    assert [line.split("\t")[0] for line in lines] == NAMES
    for line in lines:
        name, description = line.split("\t")  # exactly one tab
        assert description.strip() and "\t" not in description


EXPECTED = {
    "deepseek": ("chat-completions", "https://api.deepseek.com"),
    "ark": ("chat-completions", "https://ark.cn-beijing.volces.com/api/v3"),
    "ark-responses": ("responses", "https://ark.cn-beijing.volces.com/api/v3"),
    "ark-bots": ("chat-completions", "https://ark.cn-beijing.volces.com/api/v3/bots"),
    "qianfan": ("chat-completions", "https://qianfan.baidubce.com/v2"),
    "coreshub": ("chat-completions", "https://openapi.coreshub.cn/v1"),
    "new-api": ("chat-completions", None),
    "vllm": ("chat-completions", None),
}
MODELS = {
    "deepseek": ["deepseek-flash", "deepseek-v4-flash", "deepseek-v4-pro"],
    "ark": ["deepseek-r1-250528", "doubao-seed-1-6-251015"],
    "ark-responses": ["doubao-seed-1-6-251015"],
    "ark-bots": [],
    "qianfan": ["deepseek-r1", "deepseek-r1-distill-qwen-32b", "deepseek-v4.1-flash"],
    "coreshub": ["DeepSeek-R1"],
    "new-api": ["deepseek-reasoner"],
    "vllm": [],
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_each_preset_creates_its_provider_and_models(name, key_env):
    style, base_url = EXPECTED[name]
    args = ["--preset", name, "--api-key-env", key_env]
    if base_url is None:
        base_url = "https://gateway.example/v1"
        args += ["--base-url", base_url + "/"]
    out = add_provider(*args)
    assert out.startswith(f"Created provider {name} ({style}, {base_url})")
    provider = Provider.objects.get(name=name)
    assert (provider.style, provider.base_url) == (style, base_url)
    assert provider.enabled_keys()[0].secret() == TEST_API_KEY
    assert sorted(models_of(name)) == sorted(MODELS[name])
    for model in models_of(name).values():
        model.full_clean()  # the preset's fields are valid model fields

    add_provider(*args)  # idempotent
    assert Provider.objects.filter(name=name).count() == 1
    assert sorted(models_of(name)) == sorted(MODELS[name])


@pytest.mark.django_db
def test_deepseek_models_carry_thinking_and_effort(key_env):
    add_provider("--preset", "deepseek", "--api-key-env", key_env)
    for model in models_of("deepseek").values():
        assert model.thinking_modes == ["enabled", "disabled"]
        assert model.default_thinking == "enabled"
        # DeepSeek's thinking guide: low, high and max (minimal and medium map onto them).
        assert model.efforts == ["low", "high", "max"] and model.default_effort == "high"


@pytest.mark.django_db
def test_limits_of_ark_r1_and_new_api(key_env):
    add_provider("--preset", "ark", "--api-key-env", key_env)
    add_provider(
        "--preset", "new-api", "--api-key-env", key_env, "--base-url", "https://g.example/v1"
    )
    r1 = models_of("ark")["deepseek-r1-250528"]
    assert (r1.max_output_tokens, r1.max_output_tokens_limit) == (4096, 16384)
    assert r1.thinking_modes == [] and r1.efforts == []
    reasoner = models_of("new-api")["deepseek-reasoner"]
    assert (reasoner.max_output_tokens, reasoner.max_output_tokens_limit) == (4096, 8192)


# (no system prompt, think prefix) per preset model: DeepSeek's advice for the R1
# family, and the "<think>\n" prefill only where the provider documents a final
# assistant message it continues (Ark).
HINTS = {
    "deepseek": {
        "deepseek-flash": (False, False),
        "deepseek-v4-flash": (False, False),
        "deepseek-v4-pro": (False, False),
    },
    "ark": {"deepseek-r1-250528": (True, True), "doubao-seed-1-6-251015": (False, False)},
    "ark-responses": {"doubao-seed-1-6-251015": (False, False)},
    "ark-bots": {},
    "qianfan": {
        "deepseek-r1": (True, False),
        "deepseek-r1-distill-qwen-32b": (True, False),
        "deepseek-v4.1-flash": (False, False),
    },
    "coreshub": {"DeepSeek-R1": (True, False)},
    "new-api": {"deepseek-reasoner": (True, False)},
    "vllm": {},
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_each_preset_sets_the_model_hints(name, key_env):
    args = ["--preset", name, "--api-key-env", key_env]
    if EXPECTED[name][1] is None:
        args += ["--base-url", "https://gateway.example/v1"]
    add_provider(*args)
    found = {
        model_id: (model.no_system_prompt, model.think_prefix)
        for model_id, model in models_of(name).items()
    }
    assert found == HINTS[name]


@pytest.mark.django_db
def test_model_adds_more_and_name_renames(key_env):
    add_provider(
        "--preset", "ark-bots", "--name", "search", "--api-key-env", key_env,
        "--model", "bot-20250101-abcde",
    )  # fmt: skip
    provider = Provider.objects.get(name="search")
    assert provider.base_url == "https://ark.cn-beijing.volces.com/api/v3/bots"
    assert list(models_of("search")) == ["bot-20250101-abcde"]
    assert not Provider.objects.filter(name="ark-bots").exists()

    # An admin's edits of a preset model are kept when the command runs again.
    add_provider("--preset", "deepseek", "--api-key-env", key_env)
    ChatModel.objects.filter(model_id="deepseek-v4-pro").update(display_name="Pro", efforts=["max"])
    out = add_provider("--preset", "deepseek", "--api-key-env", key_env, "--model", "deepseek-x")
    assert out.endswith("models added: deepseek-x\n")
    models = models_of("deepseek")
    assert (models["deepseek-v4-pro"].display_name, models["deepseek-v4-pro"].efforts) == (
        "Pro",
        ["max"],
    )
    assert models["deepseek-x"].thinking_modes == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["new-api", "vllm"])
def test_base_url_is_required_where_the_preset_has_none(name, key_env):
    with pytest.raises(CommandError, match="--base-url"):
        add_provider("--preset", name, "--api-key-env", key_env)
    assert not Provider.objects.filter(name=name).exists()


@pytest.mark.django_db
def test_bad_preset_arguments(key_env, monkeypatch):
    with pytest.raises(CommandError):
        add_provider("--preset", "openai", "--api-key-env", key_env)
    with pytest.raises(CommandError, match="--style"):
        add_provider("--preset", "deepseek", "--style", "responses", "--api-key-env", key_env)
    with pytest.raises(CommandError, match="--api-key-env"):
        add_provider("--preset", "deepseek")
    monkeypatch.delenv("NOT_SET_KEY", raising=False)
    with pytest.raises(CommandError, match="NOT_SET_KEY"):
        add_provider("--preset", "deepseek", "--api-key-env", "NOT_SET_KEY")
    # Without a preset the old options are all required, as before.
    with pytest.raises(CommandError, match="--style"):
        add_provider("--name", "x", "--base-url", "https://x.example", "--api-key-env", key_env)
    assert not Provider.objects.filter(name__in=["x", "deepseek"]).exists()


# --- the request of each preset, against the fake upstream with its rules --------


async def preset_on_fake(
    fake: FakeUpstream, name: str, *models: str, base_suffix: str = ""
) -> None:
    args = ["--preset", name, "--api-key-env", "PRESET_KEY"]
    args += ["--base-url", fake.base_url + base_suffix]
    for model in models:
        args += ["--model", model]
    await database_sync_to_async(add_provider)(*args)
    fake.rules = name


async def turn(ws_for, user, conversation, fake, model: str, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    frames, stored = await run_turn(ws_for, user, conversation, model=model, **fields)
    assert frames[-1]["type"] == "turn.completed", frames[-1]
    reasoning, content = texts(frames)
    assert reasoning and content
    assert (stored.reasoning_content, stored.content) == (reasoning, content)
    body = fake.requests[-1].json
    for param in (*REJECTED, "temperature", "top_p"):
        assert param not in body
    assert "reasoning_content" not in json.dumps(
        body["messages" if "messages" in body else "input"]
    )
    return body


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_deepseek_sends_thinking_on_every_request_and_effort_only_with_it(
    ws_for, alice, conversation, fake_upstream, key_env
):
    await preset_on_fake(fake_upstream, "deepseek")
    model = "deepseek/deepseek-v4-pro"
    body = await turn(ws_for, alice, conversation, fake_upstream, model)
    assert fake_upstream.requests[-1].path == "/v1/chat/completions"
    assert body["model"] == "deepseek-v4-pro"
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "high"
    assert "max_tokens" not in body

    body = await turn(ws_for, alice, conversation, fake_upstream, model, options={"effort": "max"})
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "max"

    options = {"thinking": "disabled"}
    body = await turn(ws_for, alice, conversation, fake_upstream, model, options=options)
    assert body["thinking"] == {"type": "disabled"} and "reasoning_effort" not in body

    body = await turn(
        ws_for, alice, conversation, fake_upstream, "deepseek/deepseek-v4-flash",
        options={"thinking": "enabled", "effort": "high"},
    )  # fmt: skip
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "high"

    body = await turn(
        ws_for, alice, conversation, fake_upstream, "deepseek/deepseek-flash",
        options={"effort": "low"},
    )  # fmt: skip
    assert body["model"] == "deepseek-flash"
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "low"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_qianfan_deepseek_v4_1_flash_sends_thinking(
    ws_for, alice, conversation, fake_upstream, key_env
):
    await preset_on_fake(fake_upstream, "qianfan")
    model = "qianfan/deepseek-v4.1-flash"
    body = await turn(ws_for, alice, conversation, fake_upstream, model)
    assert body["model"] == "deepseek-v4.1-flash" and body["thinking"] == {"type": "enabled"}
    assert "reasoning_effort" not in body
    options = {"thinking": "disabled"}
    body = await turn(ws_for, alice, conversation, fake_upstream, model, options=options)
    assert body["thinking"] == {"type": "disabled"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "options",
    [
        {"effort": "medium"},  # not one DeepSeek V4 takes here
        {"effort": "minimal"},
        {"thinking": "disabled", "effort": "high"},
        {"thinking": "auto"},
    ],
)
async def test_deepseek_refuses_options_the_model_does_not_take(
    options, ws_for, alice, conversation, fake_upstream, key_env
):
    from tests.helpers import connect

    await preset_on_fake(fake_upstream, "deepseek")
    ws = await connect(ws_for, alice, conversation.id)
    frame = {"type": "user_message", "content": "hi", "model": "deepseek/deepseek-v4-pro"}
    await ws.send_json_to({**frame, "options": options})
    reply = await ws.receive_json_from(timeout=5)
    await ws.disconnect()
    assert reply["type"] == "error" and reply["code"] == "invalid_options", reply
    assert fake_upstream.requests == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_ark_chat_r1_and_doubao_seed(ws_for, alice, conversation, fake_upstream, key_env):
    await preset_on_fake(fake_upstream, "ark")
    body = await turn(ws_for, alice, conversation, fake_upstream, "ark/deepseek-r1-250528")
    assert body["max_tokens"] == 4096
    assert "thinking" not in body and "reasoning_effort" not in body

    seed = "ark/doubao-seed-1-6-251015"
    body = await turn(ws_for, alice, conversation, fake_upstream, seed)
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "medium"
    options = {"thinking": "disabled"}
    body = await turn(ws_for, alice, conversation, fake_upstream, seed, options=options)
    assert body["thinking"] == {"type": "disabled"} and "reasoning_effort" not in body


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_ark_responses_thinking_and_effort(
    ws_for, alice, conversation, fake_upstream, key_env
):
    await preset_on_fake(fake_upstream, "ark-responses")
    model = "ark-responses/doubao-seed-1-6-251015"
    body = await turn(ws_for, alice, conversation, fake_upstream, model)
    assert fake_upstream.requests[-1].path == "/v1/responses"
    assert body["thinking"] == {"type": "enabled"} and body["reasoning"] == {"effort": "medium"}
    options = {"thinking": "disabled"}
    body = await turn(ws_for, alice, conversation, fake_upstream, model, options=options)
    assert body["thinking"] == {"type": "disabled"} and body["reasoning"] == {"effort": "minimal"}
    options = {"thinking": "auto", "effort": "high"}
    body = await turn(ws_for, alice, conversation, fake_upstream, model, options=options)
    assert body["thinking"] == {"type": "auto"} and body["reasoning"] == {"effort": "high"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_ark_bots_go_to_bots_chat_completions(
    ws_for, alice, conversation, fake_upstream, key_env
):
    await preset_on_fake(fake_upstream, "ark-bots", "bot-20250101-abcde", base_suffix="/bots")
    body = await turn(ws_for, alice, conversation, fake_upstream, "ark-bots/bot-20250101-abcde")
    assert fake_upstream.requests[-1].path == "/v1/bots/chat/completions"
    assert body["model"] == "bot-20250101-abcde"
    assert "thinking" not in body and "reasoning_effort" not in body


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "model", "max_tokens"),
    [
        ("qianfan", "deepseek-r1", None),
        ("qianfan", "deepseek-r1-distill-qwen-32b", None),
        ("coreshub", "DeepSeek-R1", None),
        ("new-api", "deepseek-reasoner", 4096),
    ],
)
async def test_r1_gateways_send_the_answer_limit_and_nothing_else(
    name, model, max_tokens, ws_for, alice, conversation, fake_upstream, key_env
):
    await preset_on_fake(fake_upstream, name)
    body = await turn(ws_for, alice, conversation, fake_upstream, f"{name}/{model}")
    assert body["model"] == model and body.get("max_tokens") == max_tokens
    assert set(body) <= {"model", "messages", "stream", "stream_options", "max_tokens"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_vllm_with_a_model_of_its_own(ws_for, alice, conversation, fake_upstream, key_env):
    await preset_on_fake(fake_upstream, "vllm", "Qwen/QwQ-32B")
    body = await turn(ws_for, alice, conversation, fake_upstream, "vllm/Qwen/QwQ-32B")
    assert body["model"] == "Qwen/QwQ-32B"
    assert set(body) == {"model", "messages", "stream", "stream_options"}


# --- the fake upstream's rules -------------------------------------------------


def post(fake: FakeUpstream, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        fake.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TEST_API_KEY}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
RESP = {"model": "m", "input": [{"role": "user", "content": "hi"}], "stream": True}
BROKEN = [
    ("deepseek", "/chat/completions", {**CHAT}, "thinking"),
    ("deepseek", "/chat/completions", {**CHAT, "thinking": {"type": "auto"}}, "thinking"),
    (
        "deepseek",
        "/chat/completions",
        {**CHAT, "thinking": {"type": "disabled"}, "reasoning_effort": "high"},
        "reasoning_effort",
    ),
    (
        "deepseek",
        "/chat/completions",
        {**CHAT, "thinking": {"type": "enabled"}, "reasoning_effort": "none"},
        "reasoning_effort",
    ),
    (
        "deepseek",
        "/chat/completions",
        {**CHAT, "thinking": {"type": "enabled"}, "logprobs": True},
        "logprobs",
    ),
    ("ark", "/chat/completions", {**CHAT, "top_logprobs": 2}, "top_logprobs"),
    (
        "ark",
        "/chat/completions",
        {**CHAT, "thinking": {"type": "disabled"}, "reasoning_effort": "low"},
        "reasoning_effort",
    ),
    (
        "ark-responses",
        "/responses",
        {**RESP, "thinking": {"type": "disabled"}, "reasoning": {"effort": "high"}},
        "reasoning.effort",
    ),
    ("ark-responses", "/responses", {**RESP, "reasoning": {"effort": "max"}}, "reasoning.effort"),
    ("qianfan", "/chat/completions", {**CHAT, "logprobs": True}, "logprobs"),
    ("qianfan", "/chat/completions", {**CHAT, "thinking": {"type": "auto"}}, "thinking"),
    ("new-api", "/chat/completions", {**CHAT, "logit_bias": {"1": 5}}, "logit_bias"),
]


@pytest.mark.parametrize(("rules", "path", "body", "param"), BROKEN)
def test_the_fake_refuses_what_the_provider_refuses(fake_upstream, rules, path, body, param):
    status, _ = post(fake_upstream, path, body)
    assert status == 200  # the rules are opt-in
    fake_upstream.rules = rules
    status, error = post(fake_upstream, path, body)
    assert status == 400
    if rules.startswith("ark"):
        assert error["error"]["code"] == "InvalidParameter"
        assert error["error"]["type"] == "BadRequest"
        assert error["error"]["param"] == param and param in error["error"]["message"]
    else:
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["param"] == param and error["error"]["message"]


def test_the_fake_takes_what_the_provider_takes(fake_upstream):
    fake_upstream.rules = "deepseek"
    thinking = {"type": "disabled"}
    assert post(fake_upstream, "/chat/completions", {**CHAT, "thinking": thinking})[0] == 200
    # Every effort in DeepSeek's mapping table (minimal and low to low, medium and xhigh
    # to high, max and ultra to max).
    for effort in ("minimal", "low", "medium", "high", "xhigh", "max", "ultra"):
        body = {**CHAT, "thinking": {"type": "enabled"}, "reasoning_effort": effort}
        assert post(fake_upstream, "/chat/completions", body)[0] == 200, effort
    fake_upstream.rules = "qianfan"
    for mode in ("enabled", "disabled"):
        body = {**CHAT, "thinking": {"type": mode}}
        assert post(fake_upstream, "/chat/completions", body)[0] == 200, mode
    fake_upstream.rules = "ark-responses"
    body = {**RESP, "thinking": thinking, "reasoning": {"effort": "minimal"}}
    assert post(fake_upstream, "/responses", body)[0] == 200
    fake_upstream.rules = "vllm"  # takes anything
    assert post(fake_upstream, "/chat/completions", {**CHAT, "logprobs": True})[0] == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_request_breaking_the_rules_fails_the_turn(
    ws_for, alice, conversation, fake_upstream, key_env
):
    """The guard bites through the product: a DeepSeek model whose admin cleared its
    default thinking mode sends no `thinking`, and the fake's deepseek rules say 400."""
    await preset_on_fake(fake_upstream, "deepseek")
    await database_sync_to_async(ChatModel.objects.filter(model_id="deepseek-v4-pro").update)(
        default_thinking="", default_effort=""
    )
    frames, stored = await run_turn(ws_for, alice, conversation, model="deepseek/deepseek-v4-pro")
    assert frames[-1]["type"] == "turn.failed"
    assert frames[-1]["error"]["code"] == "bad_request"
    assert "thinking" not in fake_upstream.requests[-1].json


# --- import models ---------------------------------------------------------------


@pytest.mark.django_db
def test_import_models_adds_what_the_provider_lists(fake_upstream, key_env):
    add_provider(
        "--preset", "deepseek", "--base-url", fake_upstream.base_url, "--api-key-env", key_env
    )
    ChatModel.objects.filter(model_id="deepseek-v4-flash").delete()
    ChatModel.objects.filter(model_id="deepseek-v4-pro").update(display_name="Pro")
    fake_upstream.listed_models = ["deepseek-v4-pro", "deepseek-v4-flash", "deepseek-v4-next"]

    result = import_models(Provider.objects.get(name="deepseek"))
    assert (result.source, result.added) == ("provider", ["deepseek-v4-flash", "deepseek-v4-next"])
    request = fake_upstream.requests[-1]
    assert request.path == "/v1/models"
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    models = models_of("deepseek")
    assert models["deepseek-v4-flash"].efforts == ["low", "high", "max"]  # the preset's fields
    assert models["deepseek-v4-next"].efforts == []  # unknown: the id only
    assert models["deepseek-v4-pro"].display_name == "Pro"  # existing: untouched

    assert import_models(Provider.objects.get(name="deepseek")).added == []


@pytest.mark.django_db
def test_import_models_falls_back_to_the_preset(fake_upstream, key_env):
    # Ark lists no models: the preset's list, without asking.
    add_provider("--preset", "ark", "--base-url", fake_upstream.base_url, "--api-key-env", key_env)
    ChatModel.objects.filter(provider__name="ark").delete()
    result = import_models(Provider.objects.get(name="ark"))
    assert (result.source, result.failure) == ("preset", "")
    assert sorted(result.added) == MODELS["ark"]
    assert fake_upstream.requests == []

    # A provider that should list them but cannot be reached: the preset's list too.
    add_provider(
        "--preset", "deepseek", "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", key_env
    )
    ChatModel.objects.filter(provider__name="deepseek").delete()
    result = import_models(Provider.objects.get(name="deepseek"))
    assert result.source == "preset" and result.failure
    assert sorted(result.added) == MODELS["deepseek"]
    assert TEST_API_KEY not in result.failure


@pytest.mark.django_db
def test_import_models_admin_action(admin_client, fake_upstream, key_env):
    add_provider("--preset", "vllm", "--base-url", fake_upstream.base_url, "--api-key-env", key_env)
    fake_upstream.listed_models = ["Qwen/QwQ-32B", "deepseek-r1"]
    provider = Provider.objects.get(name="vllm")
    response = admin_client.post(
        "/admin/providers/provider/",
        {"action": "import_models", "_selected_action": [provider.pk]},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "vllm: 2 models added from the provider&#x27;s list: Qwen/QwQ-32B, deepseek-r1." in page
    assert sorted(models_of("vllm")) == ["Qwen/QwQ-32B", "deepseek-r1"]


# --- the admin's "start from preset" ---------------------------------------------


def add_form_data(**fields: str) -> dict[str, str]:
    return {
        "preset": "",
        "name": "",
        "style": "",
        "base_url": "",
        "enabled": "on",
        "api_keys-TOTAL_FORMS": "1",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
        "api_keys-0-label": "main",
        "api_keys-0-secret": TEST_API_KEY,
        "api_keys-0-priority": "0",
        "api_keys-0-enabled": "on",
        "models-TOTAL_FORMS": "0",
        "models-INITIAL_FORMS": "0",
        "models-MIN_NUM_FORMS": "0",
        "models-MAX_NUM_FORMS": "1000",
        **fields,
    }


@pytest.mark.django_db
def test_admin_add_page_offers_the_presets(admin_client):
    page = admin_client.get("/admin/providers/provider/add/").content.decode()
    assert 'name="preset"' in page
    for name in NAMES:
        assert f'value="{name}"' in page


@pytest.mark.django_db
def test_admin_starts_from_a_preset(admin_client):
    data = add_form_data(preset="deepseek")
    data.update({"models-TOTAL_FORMS": "1", "models-0-model_id": "deepseek-v4-pro"})
    data["models-0-display_name"] = "Mine"
    data["models-0-enabled"] = "on"
    response = admin_client.post("/admin/providers/provider/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    provider = Provider.objects.get(name="deepseek")
    assert (provider.style, provider.base_url) == ("chat-completions", "https://api.deepseek.com")
    assert provider.enabled_keys()[0].secret() == TEST_API_KEY
    models = models_of("deepseek")
    assert sorted(models) == MODELS["deepseek"]
    assert models["deepseek-v4-pro"].display_name == "Mine"  # the admin's row wins
    assert models["deepseek-v4-flash"].default_thinking == "enabled"

    # Every field stays editable: the change form is the ordinary one.
    page = admin_client.get(f"/admin/providers/provider/{provider.pk}/change/").content.decode()
    assert 'name="preset"' not in page and 'name="base_url"' in page


@pytest.mark.django_db
def test_admin_preset_fields_can_be_overridden_or_required(admin_client):
    data = add_form_data(preset="vllm", name="gpu-box")
    response = admin_client.post("/admin/providers/provider/add/", data)
    assert response.status_code == 200 and not Provider.objects.filter(name="gpu-box").exists()
    assert "has no fixed address" in response.content.decode()

    data["base_url"] = "http://gpu-box.internal:8000/v1"
    response = admin_client.post("/admin/providers/provider/add/", data)
    assert response.status_code == 302
    provider = Provider.objects.get(name="gpu-box")
    assert provider.style == "chat-completions"
    assert provider.base_url == "http://gpu-box.internal:8000/v1"

    # Without a preset, name and style are required as before.
    response = admin_client.post("/admin/providers/provider/add/", add_form_data())
    assert response.status_code == 200
    assert Provider.objects.filter(name="").count() == 0


def test_preset_for_recognises_a_provider():
    provider = Provider(name="mine", style="responses", base_url=presets.ARK_BASE + "/")
    assert presets.preset_for(provider) is presets.PRESETS["ark-responses"]
    provider = Provider(name="vllm", style="chat-completions", base_url="http://x/v1")
    assert presets.preset_for(provider) is presets.PRESETS["vllm"]
    assert (
        presets.preset_for(Provider(name="x", style="chat-completions", base_url="http://x"))
        is None
    )


@pytest.mark.django_db
def test_admin_shows_and_edits_the_model_hints(admin_client, key_env):
    add_provider("--preset", "ark", "--api-key-env", key_env)
    provider = Provider.objects.get(name="ark")
    page = admin_client.get(f"/admin/providers/provider/{provider.pk}/change/").content.decode()
    assert "no_system_prompt" in page and "think_prefix" in page  # in the models inline
    r1 = models_of("ark")["deepseek-r1-250528"]
    url = f"/admin/providers/chatmodel/{r1.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="no_system_prompt"' in page and 'name="think_prefix"' in page
    data = {
        "provider": str(provider.pk),
        "model_id": r1.model_id,
        "display_name": r1.display_name,
        "max_output_tokens": "4096",
        "max_output_tokens_limit": "16384",
        "no_system_prompt": "on",  # think_prefix left out: unticked
        "enabled": "on",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    r1.refresh_from_db()
    assert (r1.no_system_prompt, r1.think_prefix) == (True, False)
