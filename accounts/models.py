"""The models of people and teams live in modules of their own; imported here so
Django finds them. Their tables keep the names they had under `providers`."""

from accounts.admission import Reservation
from accounts.audit import AuditEntry
from accounts.oidc.identity import OidcIdentity
from accounts.teams import Team
from accounts.tokens import ApiToken
from accounts.usage import DailyUsage

__all__ = ["ApiToken", "AuditEntry", "DailyUsage", "OidcIdentity", "Reservation", "Team"]
