"""`{% review_url "review-charts" values %}`: a review page's URL carrying the
list's filters, so templates never glue query strings by hand."""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from conversations.review.filters import with_filters

register = template.Library()


@register.simple_tag
def review_url(url_name: str, values: Mapping[str, str] | None = None) -> str:
    return with_filters(url_name, values or {})
