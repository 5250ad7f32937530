"""The admin of teams (`teams`), the daily usage and its chart (`usage`,
`usage_chart`) and the audit log with the mixin every audited admin uses
(`audited`)."""

from accounts.admin import audited, teams, usage  # noqa: F401
