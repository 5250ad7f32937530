"""The review list's Model filter names only models whose traces the person could
see: open models and those granted to a team of someone whose traces they see."""

from __future__ import annotations

import re

import pytest

from providers.models import ChatModel, Provider
from tests.review_data import client_for

pytestmark = pytest.mark.django_db


def _offered(user) -> set[str]:  # type: ignore[no-untyped-def]
    page = client_for(user).get("/review/").content.decode()
    choices = page.split('<select id="f-model" name="model">', 1)[1].split("</select>", 1)[0]
    return set(re.findall(r'<option value="(p/[^"]+)"', choices))


@pytest.fixture
def models(team):  # type: ignore[no-untyped-def]
    provider = Provider.objects.create(name="p", style="chat-completions", base_url="http://x/v1")
    made = {
        name: ChatModel.objects.create(provider=provider, model_id=name)
        for name in ("open", "red-only", "blue-only", "old")
    }
    made["old"].enabled = False
    made["old"].save()
    team.red.models.add(made["red-only"])
    team.blue.models.add(made["blue-only"])
    return made


def test_each_person_is_offered_the_models_they_could_see(team, models):
    assert _offered(team.owner) == {"p/open", "p/old", "p/red-only"}
    assert _offered(team.reviewer) == {"p/open", "p/old", "p/red-only"}
    assert _offered(team.other_reviewer) == {"p/open", "p/old", "p/blue-only"}
    assert _offered(team.outsider) == {"p/open", "p/old"}
    assert _offered(team.root) == {"p/open", "p/old", "p/red-only", "p/blue-only"}


def test_a_reviewer_sees_the_models_of_their_members_other_teams(team, models):
    # mark, a member of Red, is also in Blue: Red's reviewer sees his turns on
    # Blue's model, so that model is named too.
    team.blue.members.add(team.member)
    assert "p/blue-only" in _offered(team.reviewer)
    assert "p/blue-only" not in _offered(team.owner)
