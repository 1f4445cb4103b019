"""The Django app of the toolkit (no models: the ledger keeps its own tables)."""

from __future__ import annotations

from django.apps import AppConfig


class OptInConfig(AppConfig):
    name = "toolkit.django"
    label = "optin"
    verbose_name = "optin-toolkit"
