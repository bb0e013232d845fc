"""The hot-path patch validates action server responses exactly as Rasa does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from deploy import rasa_patches

VALID = {
    "events": [
        {"event": "slot", "name": "language", "value": "zh", "timestamp": None},
        {"event": "active_loop", "name": None},
    ],
    "responses": [{"text": "您好", "buttons": []}],
}
INVALID = [
    {"events": [{"event": "slot"}]},  # a slot event without its name
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": ["not an object"]},
]
ACTION = RemoteAction("action_x", None)


@pytest.fixture(scope="module")
def original():
    """Rasa's own validator, captured before the patch is installed."""
    if rasa_patches.installed():
        pytest.fail("the patch was installed before the test could capture Rasa's own method")
    method = RemoteAction._validate_action_result
    rasa_patches.install()
    yield method
    RemoteAction._validate_action_result = method


def test_valid_response_passes_both(original) -> None:
    assert original(ACTION, VALID) is True
    assert ACTION._validate_action_result(VALID) is True


@pytest.mark.parametrize("response", INVALID)
def test_invalid_response_fails_both_with_the_same_error(original, response) -> None:
    with pytest.raises(ValidationError) as theirs:
        original(ACTION, response)
    with pytest.raises(ValidationError) as ours:
        ACTION._validate_action_result(response)
    assert ours.value.message.split(". Failed")[0] == theirs.value.message.split(". Failed")[0]
    assert "Failed to validate Action server response" in ours.value.message

