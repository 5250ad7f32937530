"""The admin site's names: its header and page titles name the product, in the
reader's language.

Django 5.2's admin has a few strings its own Chinese catalog lacks: the index's
column headings for screen readers, a sentence of the user add page, a title's
"Error:", a password rule. They are marked here (and the members picker's, in
`admin_site.js`), so the product's catalog, which Django merges over its own,
carries their translation and the Chinese admin has no English left."""

from django.contrib.admin import AdminSite
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

DJANGO_GAPS = (
    _("Model name"),
    _("Add link"),
    _("Change or view list link"),
    _("After you’ve created a user, you’ll be able to edit more user options."),
    _("Error:"),
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        "min_length",
    ),
)


def name(site: AdminSite) -> None:
    site.site_header = _("Reasoning chat administration")
    site.site_title = _("Reasoning chat administration")
