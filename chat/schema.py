"""Every table of the product, registered on one metadata.

Tables live next to the domain that owns them (accounts and conversations in
``chat.models``, tickets in ``escalation.models``, group chats in ``chat.groups.models``,
the agent desk in ``chat.desk.models``). Migrations and the schema test import this module
so that none of them is forgotten.
"""

from __future__ import annotations

import chat.desk.models
import chat.groups.models
import chat.mail.models
import chat.models  # noqa: F401
import escalation.models  # noqa: F401
from chat.models import Base

metadata = Base.metadata
