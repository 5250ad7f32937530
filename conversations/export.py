"""A conversation as Markdown: the branch a person reads, for download.

The conversation's system prompt comes first, verbatim in a fence. The reasoning
goes in a collapsed `<details>` block (GitHub, GitLab and most Markdown viewers
fold it), so the file reads like the page: the answer first in sight, the
thinking one click away.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from conversations.models import Conversation, Turn


def _labels(turns: Iterable[Turn]) -> dict[str, str]:
    from providers.models import ChatModel

    refs = {t.model for t in turns if t.model}
    labels: dict[str, str] = {}
    for model in ChatModel.objects.select_related("provider").filter(
        model_id__in={r.split("/", 1)[-1] for r in refs}
    ):
        labels[model.ref] = model.label
    return {ref: labels.get(ref, ref) for ref in refs}


def _fence(text: str) -> str:
    # A fence longer than any run of backticks inside, so the text cannot close it.
    runs = (line.strip() for line in text.split("\n"))
    longest = max((len(run) for run in runs if set(run) == {"`"}), default=0)
    return "`" * max(3, longest + 1)


def _status_note(status: str) -> str:
    notes: dict[str, str] = {
        Turn.Status.STREAMING: _("Still being written when downloaded."),
        Turn.Status.STOPPED: _("Stopped before the end."),
        Turn.Status.FAILED: _("Failed: the answer is incomplete."),
        Turn.Status.INCOMPLETE: _("Incomplete: the answer was cut off."),
    }
    return notes.get(status, "")


def conversation_markdown(conversation: Conversation, path: list[Turn]) -> str:
    labels = _labels(path)
    out = [f"# {conversation.title or _('New chat')}", ""]
    if conversation.system_prompt:
        # Verbatim: it shaped every answer below, and its Markdown is instructions.
        fence = _fence(conversation.system_prompt)
        prompt = [f"{fence}text", conversation.system_prompt, fence, ""]
        out += [f"## {_('System prompt')}", "", *prompt]
    for turn in path:
        if turn.role == Turn.Role.USER:
            out += [f"## {_('You')}", "", turn.content, ""]
            continue
        out += [f"## {labels.get(turn.model, turn.model) or _('Assistant')}", ""]
        if turn.reasoning_content:
            fence = _fence(turn.reasoning_content)
            out += [
                "<details>",
                f"<summary>{_('Reasoning')}</summary>",
                "",
                f"{fence}text",
                turn.reasoning_content,
                fence,
                "",
                "</details>",
                "",
            ]
        out += [turn.content, ""]
        note = _status_note(turn.status)
        if note:
            out += [f"*{note}*", ""]
    return "\n".join(out).rstrip() + "\n"
