"""JSON shapes of the directory's records (docs/http.md): defined in
:mod:`chat.directory_views`, where the audit log's use cases find them too."""

from __future__ import annotations

from chat.directory_views import OrganizationView, SiteView, UserView

__all__ = ["OrganizationView", "SiteView", "UserView"]
