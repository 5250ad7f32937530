"""The trace list reads as a person reads it: the question before the answer, statuses
and roles in the page's language, a sorted column that shows the number it is sorted
by, the Model filter's choices by the names people see, and a Markdown export
without raw JSON."""

from __future__ import annotations

import re

import pytest

from conversations.review import signals
from providers.models import ChatModel, Provider
from tests.review_data import client_for, trace

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_each_row_shows_the_question_first(team):  # type: ignore[no-untyped-def]
    trace(team.owner, question="How far is the moon?", answer="About 384,000 km.")
    html = client_for(team.owner).get("/review/").content.decode()
    row = html.split("<tr data-trace=", 1)[1].split("</tr>", 1)[0]
    assert 'data-preview="question">How far is the moon?<' in row
    assert row.index("How far is the moon?") < row.index("About 384,000 km.")


def test_statuses_and_roles_are_in_chinese_on_the_chinese_pages(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner)
    client = client_for(team.owner)
    listed = client.get("/review/", **ZH).content.decode()
    assert 'data-status="completed">已完成<' in listed
    assert '<option value="streaming">生成中</option>' in listed
    page = client.get(f"/review/{turn.id}/", **ZH).content.decode()
    assert '<span class="role">用户</span>' in page
    assert ">completed<" not in page and ">user<" not in page


def _sorted_column(html: str) -> tuple[str, list[str]]:
    """The header of the column the list says it is sorted by, and that column's cells."""
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    ths = re.findall(r"<th\b[^>]*>.*?</th>", head, re.S)
    (at,) = [i for i, th in enumerate(ths) if "aria-sort=" in th]
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr data-trace=.*?</tr>", body, re.S)
    cells = [re.findall(r"<td\b[^>]*>(.*?)</td>", row, re.S)[at] for row in rows]
    return re.sub(r"<[^>]+>", "", ths[at]), cells


def test_the_reasoning_sort_shows_the_number_it_sorts_by(team):  # type: ignore[no-untyped-def]
    # More characters in fewer tokens (Chinese vs English): the sort and the column agree.
    long = trace(team.owner, reasoning="x" * 300, reasoning_tokens=43)
    short = trace(team.owner, reasoning="y" * 100, reasoning_tokens=44)
    for turn in (long, short):
        signals.store_for(turn)
    html = client_for(team.owner).get("/review/", {"sort": "longest_reasoning"}).content.decode()
    header, cells = _sorted_column(html)
    numbers = [int(re.search(r"\d+", c).group()) for c in cells]  # type: ignore[union-attr]
    assert numbers == sorted(numbers, reverse=True), (header, cells)
    assert "character" in header.lower()


def test_the_model_filter_offers_the_names_people_see(team):  # type: ignore[no-untyped-def]
    provider = Provider.objects.create(name="ds", style="chat-completions", base_url="http://x/v1")
    ChatModel.objects.create(provider=provider, model_id="deepseek-v4", display_name="DeepSeek V4")
    wanted = trace(team.owner, model="ds/deepseek-v4")
    trace(team.owner, model="fake/fake-r1")
    client = client_for(team.owner)
    html = client.get("/review/").content.decode()
    select = html.split('<select id="f-model" name="model">', 1)[1].split("</select>", 1)[0]
    assert '<option value="ds/deepseek-v4">DeepSeek V4 (ds/deepseek-v4)</option>' in select
    chosen = client.get("/review/", {"model": "ds/deepseek-v4"}).content.decode()
    assert re.findall(r'<tr data-trace="([^"]+)"', chosen) == [str(wanted.id)]
    assert '<option value="ds/deepseek-v4" selected>' in chosen


def test_markdown_export_says_usage_in_words(team):  # type: ignore[no-untyped-def]
    trace(team.owner, reasoning_tokens=120, completion_tokens=150, thinking_ms=4200)
    response = client_for(team.owner).get("/review/export.md")
    md = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert "prompt_tokens" not in md and "{" not in md.split("### Context", 1)[0]
    assert "- Tokens: prompt 20 · reasoning 120 · answer 30 · total 170" in md
    assert "- Times: first reasoning token 0.3 s · thinking 4.2 s" in md
    zh = client_for(team.owner).get("/review/export.md", **ZH)
    assert "已完成" in b"".join(zh.streaming_content).decode()  # type: ignore[attr-defined]
