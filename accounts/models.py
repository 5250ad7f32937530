"""The models of people and teams live in modules of their own; imported here so
Django finds them. Their tables keep the names they had under `providers`."""

from accounts.audit import AuditEntry
from accounts.teams import Team
from accounts.usage import DailyUsage

__all__ = ["AuditEntry", "DailyUsage", "Team"]
