"""Reading a customer's answer to the rating prompt (any channel, any input style).

Accepted as a rating: the buttons' payloads (``/rate_4:<contact id>``, which carry the
contact so a late tap still lands on the right one), a bare 1-5 typed or picked from
numbered options (full-width digits too), ``4分`` / ``四星`` / ``五``, ``★★★★``, and a
number followed by a comment (``2 太慢了``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.metrics.texts import button_titles

_PAYLOAD = re.compile(r"^/rate_([1-5])(?::(\d{1,12}))?$")
_SKIP = re.compile(r"^/rate_skip(?::(\d{1,12}))?$")
_DIGIT = re.compile(
    r"^([1-5])(?![0-9])(?![.,][0-9])\s*(?:分|星|颗星|stars?|points?|/\s*5)?"
    r"\s*[,.;:!，。；：！、—-]*\s*(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_HANZI = re.compile(r"^([一二三四五])\s*(?:分|星|颗星)?\s*[,.;:!，。；：！、]*\s*(.*)$", re.DOTALL)
_HANZI_VALUES = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_STARS = re.compile(r"^([★⭐]{1,5})\s*(.*)$", re.DOTALL)
_TITLES = {
    unicodedata.normalize("NFKC", title): score
    for language in ("zh", "en")
    for score, title in enumerate(button_titles(language), start=1)
}


@dataclass(frozen=True)
class Answer:
    """A parsed answer.

    Attributes:
        score: 1-5, or None when it is no rating.
        comment: Text after the number, if any.
        contact_id: The contact a button payload named.
        skip: The "skip the comment" button.
        payload: Whether it came from a button.
    """

    score: int | None = None
    comment: str | None = None
    contact_id: int | None = None
    skip: bool = False
    payload: bool = False

    @property
    def valid(self) -> bool:
        """Whether this is a rating 1-5."""
        return self.score is not None


def parse_answer(text: str) -> Answer:
    """Read a message as an answer to the rating prompt.

    Args:
        text: The customer's message (or a button's payload).

    Returns:
        The answer; ``score`` is None when the text is not a rating 1-5.
    """
    raw = text.strip()
    match = _PAYLOAD.match(raw)
    if match:
        contact = int(match.group(2)) if match.group(2) else None
        return Answer(score=int(match.group(1)), contact_id=contact, payload=True)
    match = _SKIP.match(raw)
    if match:
        contact = int(match.group(1)) if match.group(1) else None
        return Answer(contact_id=contact, skip=True, payload=True)
    normal = unicodedata.normalize("NFKC", raw)
    if normal in _TITLES:  # a channel that sent a button's title instead of its payload
        return Answer(score=_TITLES[normal])
    match = _DIGIT.match(normal)
    if match:
        return Answer(score=int(match.group(1)), comment=match.group(2).strip() or None)
    match = _HANZI.match(normal)
    if match and (match.group(2).strip() == "" or normal[1:2] in ("分", "星", "颗")):
        return Answer(score=_HANZI_VALUES[match.group(1)], comment=match.group(2).strip() or None)
    match = _STARS.match(normal)
    if match:
        return Answer(score=len(match.group(1)), comment=match.group(2).strip() or None)
    return Answer()


_ATTEMPT = re.compile(
    r"^[-+]?[0-9]{1,3}(?:[.,][0-9])?\s*(?:分|星|颗星|stars?|points?|/\s*(?:5|10|100))?\s*[!.。！]*$",
    re.IGNORECASE,
)
_ATTEMPT_WORDS = frozenset(
    {
        "满意",
        "很满意",
        "非常满意",
        "不满意",
        "很不满意",
        "非常不满意",
        "一般",
        "还行",
        "还可以",
        "好",
        "很好",
        "不错",
        "差",
        "很差",
        "好评",
        "差评",
        "零分",
        "十分",
        "good",
        "great",
        "bad",
        "ok",
        "okay",
        "excellent",
        "poor",
        "terrible",
        "fine",
    }
)


def looks_like_rating(text: str) -> bool:
    """Whether a message is meant as a rating, even if not a valid one (``0``, ``7/10``,
    ``★★★★★★``, ``满意``, ``good``): such a message is asked again. Anything else (a new
    question) is no answer at all and goes on to the bot.
    """
    normal = unicodedata.normalize("NFKC", text.strip()).rstrip("!.。！~～ ")
    if parse_answer(normal).valid:
        return True
    if _ATTEMPT.match(normal) or (normal and set(normal) <= {"★", "⭐", "☆"}):
        return True
    return normal.lower() in _ATTEMPT_WORDS


def is_rating_payload(text: str) -> bool:
    """Whether a message is one of the survey's button payloads."""
    raw = text.strip()
    return bool(_PAYLOAD.match(raw) or _SKIP.match(raw))
