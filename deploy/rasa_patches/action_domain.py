"""The domain sent to the action server: built once per model, without the responses.

With `enable_selective_domain`, Rasa sends the domain only to the actions marked
`send_domain: true` (the form validators), but then rebuilds all of it with
`Domain.as_dict()` on every call (~1.1 ms) and sends every response text in both
languages (~18 of its 25 KB). The action server never renders responses: rasa-sdk's form
validators read the domain's `slots` and `forms`, and the project's actions read nothing
of it. This sends the domain without `responses`, built once per domain object (a model
loaded anew gets its own). An action that needed the responses would find them missing:
keep them out of `actions/`, or take this patch out.
"""

from __future__ import annotations

from typing import Any

import rasa
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from deploy.rasa_patches.patching import Patch

LEFT_OUT = ("responses",)
_last: tuple[Domain, dict[str, Any]] | None = None


def for_action_server(domain: Domain) -> dict[str, Any]:
    """`domain.as_dict()` without what the action server does not read, built once."""
    global _last
    if _last is None or _last[0] is not domain:
        whole = domain.as_dict()
        _last = (domain, {key: value for key, value in whole.items() if key not in LEFT_OUT})
    return _last[1]


def _action_call_format(
    self: RemoteAction, tracker: DialogueStateTracker, domain: Domain
) -> dict[str, Any]:
    """Rasa's request body for the action server, with the domain above."""
    body: dict[str, Any] = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker.current_state(EventVerbosity.ALL),
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(
        self.name()
    ):
        body["domain"] = for_action_server(domain)
    return body


PATCHES = (Patch(RemoteAction, "_action_call_format", _action_call_format),)
