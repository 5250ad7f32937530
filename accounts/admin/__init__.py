"""The admin of teams (`teams`), the daily usage and its chart (`usage`,
`usage_chart`), everyone's API tokens (`tokens`) and the audit log with the mixin
every audited admin uses (`audited`)."""

from accounts.admin import audited, teams, tokens, usage  # noqa: F401
