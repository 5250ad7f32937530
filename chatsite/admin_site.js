// Never loaded by a page: it marks, for `makemessages -d djangojs`, the strings of
// Django 5.2's admin scripts (SelectFilter2.js: the members, reviewers and models
// pickers) that Django's own Chinese catalog lacks. The admin's script catalog
// (/admin/jsi18n/) merges the product's djangojs catalog over Django's, so their
// translations reach the pickers. See chatsite/admin_site.py for the page strings.
"use strict";

function djangoAdminGaps() {
  return [
    gettext('Choose %s by selecting them and then select the "Choose" arrow button.'),
    gettext("Choose all %s"),
    gettext("Choose selected %s"),
    gettext("Remove selected %s"),
    gettext('Remove %s by selecting them and then select the "Remove" arrow button.'),
    gettext("(click to clear)"),
    gettext("Remove all %s"),
  ];
}
