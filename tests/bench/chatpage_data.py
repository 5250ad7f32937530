"""What the chat page bench opens: users, conversations and turns written through the ORM,
and the Markdown they hold. Runs after `django.setup()` on the bench's database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

PROVIDER = "bench"
MODEL_ID = "page"
API_KEY = "sk-bench-page-0123456789"


def answer(i: int) -> str:
    """A few hundred characters: a paragraph, a list and a Python code block."""
    return (
        f"Step {i}: the **invariant** holds because each pass keeps `lo <= hi` "
        f"and shrinks the range by half ([notes](https://example.org/{i})).\n\n"
        f"- the base case: an empty range;\n- the step: compare with item {i}.\n\n"
        "```python\n"
        f"def search_{i}(items: list[int], x: int) -> int:\n"
        "    lo, hi = 0, len(items)\n"
        "    while lo < hi:\n"
        "        mid = (lo + hi) // 2\n"
        "        lo, hi = (mid + 1, hi) if items[mid] < x else (lo, mid)\n"
        "    return lo\n"
        "```\n\n"
        "So the loop ends after at most *log2(n) + 1* passes."
    )


def reasoning(i: int) -> str:
    return (
        f"The user asks about step {i}. A binary search keeps two bounds; "
        "I should show the invariant, then the code, then the bound on passes. "
        "Keep it short and check the off-by-one at the upper bound."
    )


PLAIN_ANSWER = (
    "Rayleigh scattering: shorter wavelengths scatter more, so the sky looks blue. "
    "At sunset the light crosses more air and the blue is scattered away first, "
    "which leaves the reds and oranges.\n\n- blue: ~450 nm\n- red: ~700 nm"
)

CODE_AND_MATH_ANSWER = (
    "The heat equation $u_t = \\alpha \\nabla^2 u$ on a rod of length $L$ gives\n\n"
    "$$\nu(x,t) = \\sum_{n=1}^{\\infty} b_n e^{-\\alpha (n\\pi/L)^2 t}"
    " \\sin\\frac{n\\pi x}{L}\n$$\n\n"
    "```python\nimport numpy as np\n\n"
    "def step(u: np.ndarray, r: float) -> np.ndarray:\n"
    "    return u + r * (np.roll(u, 1) - 2 * u + np.roll(u, -1))\n```\n\n"
    "Stable when $r \\le 1/2$."
)


def long_answer(target: int) -> str:
    """`target` characters of mixed Markdown: prose, lists, inline and display math,
    code blocks and tables, in sections of a few hundred characters."""
    parts: list[str] = []
    size = 0
    i = 0
    while size < target:
        i += 1
        k = i % 6
        section = [
            f"## Part {i}\n",
            f"We bound $a_{{{i}}} = \\frac{{{i}}}{{n^2 + {k}}}$ against **the previous part** "
            f"(see `part_{i - 1}`), using \\(\\sum_k a_k < \\infty\\) and "
            f"[a reference](https://example.org/ref/{i}).\n",
            f"- first, $x_{{{i}}} \\ge 0$;\n- then verify:\n  1. the base case;\n"
            f"  2. the step, with $k = {k}$.\n",
        ]
        if k in (0, 3):
            body = "".join(
                f"def f_{i}_{j}(x: float) -> float:\n    return x ** {j} + {i}\n" for j in range(5)
            )
            section.append(f"```python\n{body}```\n")
        if k in (1, 4):
            rows = "".join(f"| {j} | {j * i} | $\\le {j + 1}$ |\n" for j in range(6))
            section.append("| n | a_n | bound |\n|---:|:---:|:---|\n" + rows)
        if k in (2, 5):
            section.append(
                f"$$\n\\int_0^{{{i}}} e^{{-x^2}}\\,dx \\le \\frac{{\\sqrt{{\\pi}}}}{{2}}\n$$\n"
            )
        chunk = "\n".join(section) + "\n"
        parts.append(chunk)
        size += len(chunk)
    return "".join(parts)[:target]


def tokens(text: str, chars: int = 4) -> list[str]:
    """Pieces of `chars` characters: what a model's ~4-character tokens look like on the wire."""
    return [text[i : i + chars] for i in range(0, len(text), chars)]


@dataclass
class Seeded:
    cookies: dict[str, str]  # user name -> session cookie value
    pages: dict[str, str]  # what -> conversation id
    counts: dict[str, int]  # what -> how many rows


def _user(name: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(name, password=secrets.token_hex(16))


def _cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _chain(conversation: Any, answers: list[tuple[str, str, str]]) -> None:
    """(question, reasoning, answer) exchanges as one branch: each turn's parent is the one before."""
    from django.utils import timezone

    from conversations.models import Turn

    start = timezone.now() - timedelta(hours=1)
    rows: list[Turn] = []
    parent = None
    for question, thought, text in answers:
        for role, content, reasoning_content in (
            (Turn.Role.USER, question, ""),
            (Turn.Role.ASSISTANT, text, thought),
        ):
            at = start + timedelta(seconds=len(rows))
            turn = Turn(
                conversation=conversation,
                index=len(rows),
                parent=parent,
                role=role,
                content=content,
                reasoning_content=reasoning_content,
                status=Turn.Status.COMPLETED,
                model=f"{PROVIDER}/{MODEL_ID}" if role == Turn.Role.ASSISTANT else "",
                timings={"total": 2.5, "reasoning_duration": 1.0}
                if role == Turn.Role.ASSISTANT
                else None,
                created=at,
                finished=at,
            )
            rows.append(turn)
            parent = turn
    Turn.objects.bulk_create(rows, batch_size=500)


def seed(upstream_url: str, n_turn_pairs: int, n_sidebar: int) -> Seeded:
    """Three users: `reader` (the conversations opened), `hoarder` (`n_sidebar` conversations),
    `single` (one conversation: the sidebar's baseline). The provider points at `upstream_url`."""
    from django.db import connections

    from conversations.models import Conversation
    from providers.models import ApiKey, ChatModel, Provider

    provider = Provider.objects.create(
        name=PROVIDER, style="chat-completions", base_url=upstream_url
    )
    key = ApiKey(provider=provider, label="bench")
    key.set_secret(API_KEY)
    key.save()
    ChatModel.objects.create(provider=provider, model_id=MODEL_ID)

    reader, hoarder, single = _user("reader"), _user("hoarder"), _user("single")
    pages: dict[str, str] = {}

    def conversation(what: str, owner: Any, exchanges: list[tuple[str, str, str]]) -> None:
        c = Conversation.objects.create(owner=owner, title=what)
        _chain(c, exchanges)
        pages[what] = str(c.id)

    long = [
        (f"Question {i}: how does step {i} work?", reasoning(i), answer(i))
        for i in range(n_turn_pairs)
    ]
    conversation("long", reader, long)
    conversation("short", reader, long[:1])
    conversation("empty", reader, [])
    conversation("plain", reader, [("Why is the sky blue?", reasoning(0), PLAIN_ANSWER)])
    conversation("code+math", reader, [("The heat equation?", reasoning(1), CODE_AND_MATH_ANSWER)])
    conversation("single", single, [("Hello", reasoning(2), PLAIN_ANSWER)])
    Conversation.objects.bulk_create(
        [Conversation(owner=hoarder, title=f"Conversation {i}") for i in range(n_sidebar)],
        batch_size=500,
    )
    pages["hoarder-one"] = str(
        Conversation.objects.filter(owner=hoarder).values_list("id", flat=True).first()
    )
    cookies = {u.username: _cookie(u) for u in (reader, hoarder, single)}
    connections.close_all()
    return Seeded(cookies, pages, {"turns": 2 * n_turn_pairs, "sidebar": n_sidebar})
