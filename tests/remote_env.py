"""The settings a probe or run needs against a simulator started by the test itself: the
docs' canonical credentials and number, as the environment would give them."""

from __future__ import annotations

from redcloud_check.core.config import CANONICAL

REMOTE = {"RC_CLIENT_ID": CANONICAL["client_id"], "RC_CLIENT_SECRET": CANONICAL["client_secret"],
          "RC_NUMBER_ID": CANONICAL["number_id"]}
