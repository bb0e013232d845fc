"""Masking of phone numbers and addresses for replies and logs."""

from __future__ import annotations

import re

MASK = "****"

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NON_DIGITS = re.compile(r"\D")
# A phone-like run that is not glued to letters or digits (so order ids such as
# DD202611010001 and tracking numbers such as SF1234567890 stay readable).
_PHONE_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9+])"
    r"(?:\+\d{1,3}[ -]?\d(?:[ -]?\d){5,13}"  # international: +1 415 555 0123
    r"|1[3-9]\d(?:[ -]?\d){8}"  # mainland mobile: 13800138000, 138-0013-8000
    r"|0\d{2,3}-\d{7,8})"  # landline: 021-12345678
    r"(?![A-Za-z0-9])"
)


def mask_phone(phone: str | None) -> str:
    """Masks a phone number: ``13800138000`` -> ``138****8000``, ``+14155550123`` ->
    ``+1415***0123``; shorter numbers keep only their last 4 digits."""
    if not phone:
        return ""
    digits = _NON_DIGITS.sub("", phone)
    n = len(digits)
    if n <= 4:
        return "*" * n
    if phone.strip().startswith("+") and n > 8:
        return "+" + digits[:4] + "*" * (n - 8) + digits[-4:]
    if n >= 11:
        return digits[:3] + "*" * (n - 7) + digits[-4:]
    return "*" * (n - 4) + digits[-4:]


def mask_address(address: str | None) -> str:
    """Keeps the province/city head of an address and hides the rest with ``****``.

    Chinese: the first 6 characters (``上海市浦东新区张江路…`` -> ``上海市浦东新****``).
    English: the first comma-separated part without digits, usually the city
    (``Shanghai, Jing'an District, 1788 Nanjing West Road`` -> ``Shanghai ****``).
    """
    if not address:
        return ""
    text = " ".join(address.split())
    if _CJK.search(text):
        keep = 6 if len(text) > 6 else len(text) // 2
        return text[:keep] + MASK
    parts = [p.strip() for p in text.split(",") if p.strip()]
    no_digits = [p for p in parts if not any(c.isdigit() for c in p)]
    if not no_digits:
        return MASK
    head = no_digits[0] if not any(c.isdigit() for c in parts[0]) else no_digits[-1]
    if head == text:  # a single segment: keep just its first word
        head = head.split()[0] if len(head.split()) > 1 else ""
    return f"{head} {MASK}" if head else MASK


def mask_text(text: str | None) -> str:
    """Masks every phone-number-like run inside free text (for logs and transcripts)."""
    if not text:
        return text or ""
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
