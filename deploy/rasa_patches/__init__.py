"""Fixes to Rasa 3.6's hot path, installed by `deploy.rasa_main` before the server starts.

Each was found with py-spy under load (docs/performance.md) and keeps Rasa's behaviour:

- `action_responses`: action server responses validated without re-checking the schema
  and event type by event type (same verdicts and errors as Rasa's).
- `connections`: one kept-alive HTTP session per endpoint instead of a connection per call.
- `language_slot`: the `language` slot mapping runs in the Rasa server (the same function
  as the action server's).
- `event_types`: event classes found by name from a table.
- `rule_lookup`: the rule policy's rule keys parsed once, and its search for fitting
  rules stopped past the longest rule and remembered per tail of dialogue states.
- `session_start`: `action_session_start` (slots carried over, identity from the channel)
  run in process instead of on the action server.
- `graph_runner`: the model graph run node after node in an order worked out once, not
  scheduled by dask on every call.
- `action_domain`: the domain for the action server built once per model, without the
  responses it never reads.
- `prediction_states`: the dialogue states made once per rule prediction (it searched the
  rules twice, each time replaying the conversation).
- `slot_copy`: slots copied directly instead of through `copy.copy`'s generic protocol.

The production tracker store (deploy/tracker_store.py) is configured, not patched in.
"""

from __future__ import annotations

from deploy.rasa_patches import (
    action_domain,
    action_responses,
    connections,
    event_types,
    graph_runner,
    language_slot,
    prediction_states,
    rule_lookup,
    session_start,
    slot_copy,
)
from deploy.rasa_patches.patching import Patch, apply, revert

PATCHES: tuple[Patch, ...] = (
    *action_responses.PATCHES,
    *connections.PATCHES,
    *language_slot.PATCHES,
    *event_types.PATCHES,
    *rule_lookup.PATCHES,
    *graph_runner.PATCHES,
    *session_start.PATCHES,
    *action_domain.PATCHES,
    *prediction_states.PATCHES,
    *slot_copy.PATCHES,
)


def install() -> None:
    """Installs every patch (idempotent)."""
    apply(PATCHES)


def uninstall() -> None:
    """Gives Rasa its own code back (tests)."""
    revert(PATCHES)


def installed() -> bool:
    """Whether every patch is installed in this process."""
    return all(patch.applied() for patch in PATCHES)
