"""`{% review_url "review-charts" values %}`: a review page's URL carrying the
list's filters, so templates never glue query strings by hand; `|status_label` and
`|role_label`: a turn's status and a message's role in the page's language."""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from conversations.review import traces
from conversations.review.filters import with_filters

register = template.Library()


@register.simple_tag
def review_url(url_name: str, values: Mapping[str, str] | None = None) -> str:
    return with_filters(url_name, values or {})


@register.filter
def status_label(value: str) -> str:
    return traces.status_label(value)


@register.filter
def role_label(value: str) -> str:
    return traces.role_label(value)
