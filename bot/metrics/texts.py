"""What the survey says to customers, in Chinese and English."""

from __future__ import annotations

from typing import Any

RATE_PAYLOAD = "/rate_{score}:{contact}"
SKIP_PAYLOAD = "/rate_skip:{contact}"

_TEXTS: dict[str, dict[str, str]] = {
    "prompt": {
        "zh": "请为本次服务打分：1 分很不满意，5 分非常满意。",
        "en": "How did we do? Please rate this conversation from 1 (very poor) to 5 (excellent).",
    },
    "reask": {
        "zh": "抱歉，没看懂您的评分。请回复 1 到 5 的数字（5 分为非常满意）；"
        "如果有新问题，直接发给我就好。",
        "en": "Sorry, I didn't get that rating. Please reply with a number from 1 to 5 "
        "(5 is excellent); if you have a new question, just send it.",
    },
    "thanks_ask_comment": {
        "zh": "感谢您的评分！如果愿意，可以直接回复一句意见或建议；不需要的话点“跳过”。",
        "en": "Thank you for your rating! If you like, reply with a short comment, or tap Skip.",
    },
    "sorry_ask_comment": {
        "zh": "很抱歉这次没能让您满意。能告诉我们哪里做得不好吗？每条意见客服主管都会看。",
        "en": "We're sorry we let you down. Could you tell us what went wrong? "
        "A supervisor reads every comment.",
    },
    "thanks": {
        "zh": "感谢您的评价！还有问题可以随时问我。",
        "en": "Thank you for your feedback! Ask me any time if you need anything else.",
    },
    "duplicate": {
        "zh": "您已经为这次服务评过分了（{score} 分），以第一次评分为准，谢谢！",
        "en": "You have already rated this conversation ({score}); your first rating stands. "
        "Thank you!",
    },
    "skip": {"zh": "跳过", "en": "Skip"},
}

_BUTTONS: dict[str, tuple[str, ...]] = {
    "zh": ("1 很不满意", "2 不满意", "3 一般", "4 满意", "5 非常满意"),
    "en": ("1 Very poor", "2 Poor", "3 OK", "4 Good", "5 Excellent"),
}


def say(key: str, language: str | None, **values: Any) -> str:
    """Return a survey text in the customer's language (Chinese by default)."""
    variants = _TEXTS[key]
    return variants.get(language or "zh", variants["zh"]).format(**values)


def button_titles(language: str | None) -> tuple[str, ...]:
    """Titles of the rating buttons, 1 first."""
    return _BUTTONS.get(language or "zh", _BUTTONS["zh"])


def rating_buttons(language: str | None, contact_id: int) -> tuple[dict[str, str], ...]:
    """The five rating buttons, 1 first, so a channel that numbers them keeps 1..5."""
    titles = button_titles(language)
    return tuple(
        {"title": title, "payload": RATE_PAYLOAD.format(score=i, contact=contact_id)}
        for i, title in enumerate(titles, start=1)
    )


def skip_button(language: str | None, contact_id: int) -> tuple[dict[str, str], ...]:
    """The button that declines to comment."""
    return ({"title": say("skip", language), "payload": SKIP_PAYLOAD.format(contact=contact_id)},)
