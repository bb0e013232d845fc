"""A small language guess for the metadata passed to Rasa (zh or en)."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2,}(?![A-Za-z0-9])")

LANGUAGES = ("zh", "en")


def detect_language(text: str) -> str | None:
    """Guess the language of a customer message.

    Args:
        text: The message.

    Returns:
        ``"zh"`` if it contains Chinese characters, ``"en"`` if it has Latin words,
        else None (numbers, emoji, button payloads).
    """
    if text.startswith("/"):
        return None
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(text):
        return "en"
    return None


def pick_language(text: str, hint: str | None, previous: str | None) -> str:
    """Choose the language for a message.

    Chinese characters are an unambiguous signal, so they win. Latin letters are not
    (order numbers, brand names, pasted HTML), so there the client's UI language, the
    customer's explicit choice, comes first; then the guess, the conversation's last
    language, and Chinese.

    Args:
        text: The message.
        hint: The language the client's UI is in, if it said.
        previous: The conversation's last language.

    Returns:
        ``"zh"`` or ``"en"``.
    """
    detected = detect_language(text)
    if detected == "zh":
        return "zh"
    for candidate in (hint, detected, previous):
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    return "zh"
