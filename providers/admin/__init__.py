"""The admin of providers, keys and models (`catalog`), with the provider page's
"start from preset" and "import models" (`presets`) and "Test connection"
(`connection`). Teams, usage and the audit log are in `accounts/admin/`."""

from providers.admin import catalog  # noqa: F401
