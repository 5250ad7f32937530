"""The trace page's two forms: a judgement and a redaction."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from conversations.review.models import Redaction, Review

SCORES = [("", "–")] + [(str(n), str(n)) for n in range(1, 6)]


class ReviewForm(forms.Form):
    rating = forms.ChoiceField(
        label=_("Rating"),
        choices=[("", _("Not rated")), *Review.Rating.choices],
        required=False,
        widget=forms.RadioSelect,
    )
    score = forms.TypedChoiceField(
        label=_("Score"), choices=SCORES, coerce=int, empty_value=None, required=False
    )
    tags = forms.CharField(label=_("Tags"), max_length=1000, required=False)
    note = forms.CharField(
        label=_("Note"), max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


class RedactForm(forms.Form):
    part = forms.ChoiceField(label=_("Part"), choices=Redaction.Part.choices)
    # Not stripped: the passage must match the stored text exactly.
    passage = forms.CharField(
        label=_("Passage"), strip=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean_passage(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; stored text has LF.
        return str(self.cleaned_data["passage"]).replace("\r\n", "\n")
