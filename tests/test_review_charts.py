"""The review charts (`/review/charts/`): the numbers on a small known set, who is
counted for whom, the filters, the bounded number of queries, and the page itself.
Runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from conversations.models import Turn
from conversations.review.charts import ChartData, ModelStats, _period, chart_data, period_starts
from conversations.review.models import Review
from conversations.review.visibility import visible_turns
from tests.review_data import client_for, trace

pytestmark = pytest.mark.django_db

MONDAY = timezone.make_aware(datetime(2026, 3, 2, 12, 0))


def charts(client: Client, **params: str) -> Any:
    response = client.get("/review/charts/", params)
    assert response.status_code == 200, response.content[:500]
    return response.context


def traces_per_model(context: Any) -> dict[str, str]:
    return {row["model"]: row["traces"] for row in context["token_rows"]}


def by_model(data: ChartData) -> dict[str, ModelStats]:
    return {m.model: m for m in data.models}


# --- the numbers --------------------------------------------------------------------


def test_numbers_on_a_small_known_set(team):  # type: ignore[no-untyped-def]
    owner = team.owner
    trace(owner, model="p/a", reasoning_tokens=100, completion_tokens=150, thinking_ms=4_999)
    trace(owner, model="p/a", reasoning_tokens=200, completion_tokens=260, thinking_ms=5_000)
    trace(owner, model="p/a", reasoning_tokens=300, completion_tokens=400, thinking_ms=400_000)
    b = trace(owner, model="p/b", thinking_ms=59_999)
    Turn.objects.filter(pk=b.pk).update(usage=None)
    c = trace(owner, model="p/c")
    Turn.objects.filter(pk=c.pk).update(timings=None, usage={"completion_tokens": 90})

    data = chart_data(visible_turns(owner))
    models = by_model(data)
    assert [m.model for m in data.models] == ["p/a", "p/b", "p/c"]  # most traced first
    a = models["p/a"]
    assert (a.traces, a.with_tokens) == (3, 3)
    assert a.mean_reasoning == pytest.approx(200)
    assert a.mean_answer == pytest.approx((50 + 60 + 100) / 3)
    assert (a.reasoning_sum, a.completion_sum) == (600, 810)
    # [0, 5 s), [5 s, 15 s), …, [5 min, ∞): edges belong to the bucket above.
    assert a.buckets == [1, 1, 0, 0, 0, 0, 1]
    assert a.no_thinking == 0
    pb = models["p/b"]
    assert (pb.with_tokens, pb.mean_reasoning, pb.buckets) == (0, None, [0, 0, 0, 1, 0, 0, 0])
    pc = models["p/c"]
    # No reasoning count reported: the whole completion was answer.
    assert (pc.mean_reasoning, pc.mean_answer, pc.no_thinking) == (0, 90, 1)
    assert pc.buckets == [0] * 7
    assert data.traces == 5


def test_ratings_per_model_and_period(team):  # type: ignore[no-untyped-def]
    first = trace(team.owner, model="p/a", created=MONDAY)
    same_week = trace(team.owner, model="p/a", created=MONDAY + timedelta(days=6))
    later = trace(team.owner, model="p/a", created=MONDAY + timedelta(days=70))
    other = trace(team.owner, model="p/b", created=MONDAY)
    Review.objects.create(turn=first, reviewer=team.owner, rating="good", score=5)
    Review.objects.create(turn=first, reviewer=team.reviewer, rating="bad", score=2)
    Review.objects.create(turn=same_week, reviewer=team.reviewer, rating="good")
    Review.objects.create(turn=later, reviewer=team.reviewer, score=3, note="no verdict")
    Review.objects.create(turn=other, reviewer=team.reviewer, rating="bad", score=1)

    data = chart_data(visible_turns(team.owner))
    assert data.period == "week"  # 70 days: more than two months
    rows = [(r.model, r.start, r.good, r.bad, r.reviews, r.mean_score) for r in data.ratings]
    assert rows == [
        ("p/a", date(2026, 3, 2), 2, 1, 3, pytest.approx(3.5)),
        ("p/a", date(2026, 5, 11), 0, 0, 1, pytest.approx(3.0)),
        ("p/b", date(2026, 3, 2), 0, 1, 1, pytest.approx(1.0)),
    ]


def test_the_time_axis_adapts_to_the_span() -> None:
    assert _period(timedelta(days=10)) == "day"
    assert _period(timedelta(days=300)) == "week"
    assert _period(timedelta(days=1000)) == "month"
    assert period_starts(date(2025, 11, 1), date(2026, 2, 1), "month") == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert len(period_starts(date(2026, 3, 2), date(2026, 3, 30), "week")) == 5


def test_two_queries_whatever_the_number_of_models(team, django_assert_num_queries):  # type: ignore[no-untyped-def]
    for i in range(6):
        turn = trace(team.owner, model=f"p/m{i}", thinking_ms=i * 20_000)
        Review.objects.create(turn=turn, reviewer=team.reviewer, rating="good", score=4)
    owners, outsiders = visible_turns(team.owner), visible_turns(team.outsider)
    with django_assert_num_queries(2):
        data = chart_data(owners)
    assert len(data.models) == 6 and len(data.ratings) == 6
    with django_assert_num_queries(1):  # nothing to rate: the ratings query is skipped
        assert chart_data(outsiders).models == []


# --- who is counted for whom ----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("owner", {"p/alice": "1"}),
        ("reviewer", {"p/alice": "1", "p/rita": "1"}),
        ("root", {"p/alice": "1", "p/rita": "1", "p/olga": "1"}),
        ("other_reviewer", {"p/olga": "1"}),
        ("member", {}),
        ("outsider", {}),
    ],
)
def test_a_person_counts_only_the_traces_they_may_see(team, who, sees):  # type: ignore[no-untyped-def]
    mine = trace(team.owner, model="p/alice")
    trace(team.reviewer, model="p/rita")
    olgas = trace(team.other_reviewer, model="p/olga")
    Review.objects.create(turn=mine, reviewer=team.reviewer, rating="good")
    Review.objects.create(turn=olgas, reviewer=team.other_reviewer, rating="bad")
    context = charts(client_for(getattr(team, who)))
    assert traces_per_model(context) == sees
    rated = {(r["model"], r["good"], r["bad"]) for r in context["rating_rows"]}
    expected = {("p/alice", 1, 0), ("p/olga", 0, 1)}
    assert rated == {r for r in expected if r[0] in sees}


def test_naming_someone_else_never_widens_the_counts(team):  # type: ignore[no-untyped-def]
    trace(team.other_reviewer, model="p/olga")
    client = client_for(team.member)
    for params in ({"user": "olga"}, {"team": "Blue"}, {"model": "p/olga"}):
        context = charts(client, **params)
        assert context["traces"] == 0
        assert context["token_rows"] == [] and context["rating_rows"] == []


def test_anonymous_is_sent_to_sign_in() -> None:
    response = Client().get("/review/charts/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- filters and links ------------------------------------------------------------


def test_the_list_filters_narrow_the_charts(team):  # type: ignore[no-untyped-def]
    now = timezone.now()
    old = trace(team.owner, model="p/a", created=now - timedelta(days=10), reasoning_tokens=50)
    trace(team.owner, model="p/a", reasoning_tokens=5_000)
    trace(team.owner, model="p/b", reasoning="Rayleigh, once more", status=Turn.Status.FAILED)
    Review.objects.create(turn=old, reviewer=team.owner, rating="good")
    client = client_for(team.owner)
    assert traces_per_model(charts(client)) == {"p/a": "2", "p/b": "1"}
    assert traces_per_model(charts(client, model="p/a")) == {"p/a": "2"}
    assert traces_per_model(charts(client, status="failed")) == {"p/b": "1"}
    assert traces_per_model(charts(client, rating="good")) == {"p/a": "1"}
    assert traces_per_model(charts(client, min_reasoning="1000")) == {"p/a": "1"}
    assert traces_per_model(charts(client, since=now.date().isoformat())) == {
        "p/a": "1",
        "p/b": "1",
    }
    assert traces_per_model(charts(client, q="once")) == {"p/b": "1"}


def test_a_bad_filter_is_a_400_with_its_reason(team):  # type: ignore[no-untyped-def]
    response = client_for(team.owner).get("/review/charts/", {"since": "yesterday"})
    assert response.status_code == 400
    assert b'role="alert"' in response.content


def test_list_and_charts_link_to_each_other_with_the_filters(team):  # type: ignore[no-untyped-def]
    trace(team.owner, model="p/a")
    client = client_for(team.owner)
    listing = client.get("/review/", {"model": "p/a", "status": "completed"}).content.decode()
    href = re.search(r'href="([^"]+)" data-link="charts"', listing)
    assert href is not None
    url = urlsplit(href.group(1).replace("&amp;", "&"))
    assert url.path == "/review/charts/"
    assert parse_qs(url.query) == {"model": ["p/a"], "status": ["completed"]}
    page = client.get(url.path + "?" + url.query).content.decode()
    back = re.search(r'href="([^"]+)" data-link="list"', page)
    assert back is not None
    back_url = urlsplit(back.group(1).replace("&amp;", "&"))
    assert back_url.path == "/review/"
    assert parse_qs(back_url.query) == {"model": ["p/a"], "status": ["completed"]}


def test_the_page_is_plain_svg_with_tables_and_says_when_empty(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner, model="p/a", thinking_ms=20_000)
    Review.objects.create(turn=turn, reviewer=team.owner, rating="good", score=4)
    client = client_for(team.owner)
    html = client.get("/review/charts/").content.decode()
    assert html.count('<svg class="chart"') == 3  # tokens, one histogram, one rating panel
    for table in ("tokens", "thinking", "ratings"):
        assert f'data-table="{table}"' in html
    assert "style=" not in html and "<style" not in html
    assert "<script>" not in html  # only the base page's external scripts
    empty = client.get("/review/charts/", {"model": "p/none"}).content.decode()
    assert "No trace matches these filters" in empty
    assert '<svg class="chart"' not in empty


def test_the_page_speaks_chinese(team):  # type: ignore[no-untyped-def]
    trace(team.owner, model="p/a")
    client = client_for(team.owner)
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/review/charts/").content.decode()
    assert "思考时间" in html
    assert "Thinking time" not in html
