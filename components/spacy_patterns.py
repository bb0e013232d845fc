"""Rule-based ``date`` and ``amount`` entities for Chinese and English messages.

Why spaCy here: the extractor needs no training data at all, only patterns, and spaCy's
``Matcher`` runs those patterns over tokens. The Chinese pipeline is ``spacy.blank("zh")``
with the jieba segmenter, i.e. the same jieba segmentation (and the same user dictionary,
jieba being process-global) that Rasa's ``JiebaTokenizer`` feeds the classifier, so a
match is a run of the tokens the rest of the pipeline sees. The English pipeline is
``spacy.blank("en")``, whose tokenizer already splits ``$49.99``, ``Nov. 3rd,`` and
``3 days ago`` into tokens that token patterns describe well. Both pipelines are blank
(tokenizer only): nothing is downloaded and nothing is trained.

Chinese needs one addition. jieba sometimes cuts through a date or amount or glues it to
its neighbour (``三天|前下``, ``前|天下``, ``两天|后能``) and keeps Chinese numerals with
their unit (``两百块`` is one token), so token patterns cannot describe those. For Chinese
text a regular-expression pass over ``doc.text`` therefore runs next to the matcher and
overlapping candidates resolve to the longest span.

Values:

- ``date``: an ISO date (``2026-11-03``) relative to the processing date, which is today
  in ``timezone`` (default ``Asia/Shanghai``) or the fixed ``reference_date`` from the
  config (for tests and replays). ``上周三`` / ``下周一`` / ``这周五`` are days of the
  previous / next / current calendar week (weeks start on Monday); English
  ``last Wednesday`` is the latest Wednesday before today and ``next Monday`` the first
  Monday after today. A month and day without a year take the year that puts the date
  closest to the processing date.
- ``amount``: the number as a plain decimal string (``299``, ``49.99``, ``200``) with
  ``additional_info = {"currency": "CNY" | "USD"}``.

The component is cheap: a regex pre-check skips messages that cannot hold a date or an
amount, and the two blank pipelines are built once per process.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from re import Pattern
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

DATE = "date"
AMOUNT = "amount"
CNY = "CNY"
USD = "USD"

# --------------------------------------------------------------------------- numbers

_CN_DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_UNITS: dict[str, int] = {"十": 10, "百": 100, "千": 1000}
_CN_BIG: dict[str, int] = {"万": 10_000, "亿": 100_000_000}

_EN_NUMBERS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip


def parse_cn_integer(text: str) -> int | None:
    """Parses a Chinese numeral: ``三`` 3, ``十五`` 15, ``两百`` 200, ``一百零五`` 105.

    Colloquial abbreviations count too: ``三百五`` 350, ``一千二`` 1200, ``两万五``
    25000. A run of bare digits reads digit by digit (``二〇二六`` 2026).
    """
    if not text:
        return None
    if all(ch in _CN_DIGITS for ch in text):
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total = section = number = 0
    last_unit = 1
    seen_digit = seen_zero = False
    for ch in text:
        if ch in _CN_DIGITS:
            value = _CN_DIGITS[ch]
            if value == 0:
                seen_zero = True
            number = value
            seen_digit = True
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if number == 0 and unit == 10:
                number = 1  # 十五 = 15
            section += number * unit
            number = 0
            last_unit = unit
            seen_zero = False
            seen_digit = True
        elif ch in _CN_BIG:
            section = (section + number) * _CN_BIG[ch]
            total += section
            section = number = 0
            last_unit = _CN_BIG[ch]
            seen_zero = False
        else:
            return None
    if not seen_digit:
        return None
    if number and not seen_zero and last_unit >= 100 and text[-1] in _CN_DIGITS:
        number *= last_unit // 10  # 三百五 = 350
    return total + section + number


def parse_number(text: str) -> Decimal | None:
    """Parses Arabic (``1,299.00``), Chinese (``三百五``, ``二点五``) or English
    (``twenty one``) numbers."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(?:,\d{3})*(?:\.\d+)?|\d*\.\d+", text):
        try:
            return Decimal(text.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - guarded by the regex
            return None
    if "点" in text:
        whole, _, fraction = text.partition("点")
        integer = parse_cn_integer(whole)
        if integer is None or not fraction:
            return None
        if not all(ch in _CN_DIGITS for ch in fraction):
            return None
        digits = "".join(str(_CN_DIGITS[ch]) for ch in fraction)
        return Decimal(f"{integer}.{digits}")
    integer = parse_cn_integer(text)
    if integer is not None:
        return Decimal(integer)
    words = [w for w in re.split(r"[\s\-]+", text.lower()) if w and w != "and"]
    if not words or any(w not in _EN_NUMBERS and w != "hundred" for w in words):
        return None
    value = 0
    current = 0
    for word in words:
        if word == "hundred":
            current = max(current, 1) * 100
        else:
            current += _EN_NUMBERS[word]
    value += current
    return Decimal(value)


def format_number(value: Decimal) -> str:
    """``Decimal("299.00")`` -> ``"299"``, ``Decimal("49.90")`` -> ``"49.9"``."""
    text = format(value.normalize(), "f")
    return text


# ----------------------------------------------------------------------------- dates


def _make_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _closest_year(today: dt.date, month: int, day: int) -> dt.date | None:
    candidates = [
        d for d in (_make_date(today.year + k, month, day) for k in (-1, 0, 1)) if d is not None
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda d: (abs((d - today).days), d < today))


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _shift(today: dt.date, count: int, unit: str) -> dt.date:
    if unit == "month":
        return _add_months(today, count)
    if unit == "week":
        return today + dt.timedelta(days=7 * count)
    return today + dt.timedelta(days=count)


def _week_day(today: dt.date, week_offset: int, weekday: int) -> dt.date:
    monday = today - dt.timedelta(days=today.weekday())
    return monday + dt.timedelta(days=7 * week_offset + weekday)


def _small_int(text: str) -> int | None:
    value = parse_number(text)
    if value is None or value != value.to_integral_value() or value > 10_000:
        return None
    return int(value)


# ------------------------------------------------------------------------ rule table

Value = tuple[str, str | None]  # (normalised value, currency or None)
Handler = Callable[["re.Match[str]", dt.date, str], Value | None]


@dataclass(frozen=True)
class Rule:
    """A regular expression for one entity label and how to normalise its match."""

    label: str
    regex: Pattern[str]
    handler: Handler


def _iso(day: dt.date | None) -> Value | None:
    return (day.isoformat(), None) if day is not None else None


def _money(value: Decimal | None, currency: str) -> Value | None:
    if value is None or value < 0:
        return None
    return format_number(value), currency


_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CN_NUM = "[零〇一二两三四五六七八九十百千万]+"
_CN_DAY_NUM = "[一二三四五六七八九十]{1,3}"
_MULTIPLIERS: dict[str, int] = {"万": 10_000, "千": 1000, "k": 1000, "K": 1000}

# ----- Chinese rules (also applied to spans found by the Chinese matcher)

_ZH_RELATIVE_DAYS: dict[str, int] = {
    "大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "昨晚": -1,
    "今天": 0, "今日": 0, "今晚": 0, "今早": 0,
    "明天": 1, "明日": 1, "明早": 1, "明晚": 1, "后天": 2, "大后天": 3,
}  # fmt: skip
_ZH_WEEKDAYS: dict[str, int] = {
    "一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
    "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6,
}  # fmt: skip
_ZH_WEEK_OFFSETS: dict[str, int] = {
    "上上": -2, "上": -1, "这": 0, "本": 0, "下": 1, "下下": 2,
}  # fmt: skip
_ZH_UNITS: dict[str, str] = {
    "天": "day", "周": "week", "星期": "week", "礼拜": "week", "月": "month",
}  # fmt: skip
# After 块 (without 钱) a Han character usually starts a noun: 3块电池 is three
# batteries, not 3 yuan. These characters may follow a money 块.
_AFTER_KUAI_OK = set("钱吗呢吧啊呀哦嘛了的多左右买退还付给就都也是不没要到而")
_HAN_CHAR = re.compile("[\u4e00-\u9fff]")


def _zh_iso(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    return _iso(_make_date(int(m[1]), int(m[2]), int(m[3])))


def _zh_month_day(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    month = _small_int(m[2])
    day = _small_int(m[3])
    if month is None or day is None:
        return None
    if m[1]:
        year = _small_int(m[1])
        return _iso(_make_date(year, month, day)) if year else None
    return _iso(_closest_year(today, month, day))


def _zh_relative_day(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    return _iso(today + dt.timedelta(days=_ZH_RELATIVE_DAYS[m[0]]))


def _zh_weekday(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    offset = _ZH_WEEK_OFFSETS[m[1]] if m[1] else 0
    return _iso(_week_day(today, offset, _ZH_WEEKDAYS[m[2]]))


def _zh_offset(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    count_text, measure_word, unit_text, direction = m[1], m[2], m[3], m[4]
    unit = _ZH_UNITS[unit_text]
    if unit == "month" and not measure_word:
        return None  # 3月前 is "before March", not "three months ago"
    if count_text == "半":
        if unit != "month":
            return None
        count, unit = 15, "day"
    else:
        parsed = _small_int(count_text)
        if parsed is None:
            return None
        count = parsed
    sign = -1 if "前" in direction else 1
    return _iso(_shift(today, sign * count, unit))


def _kuai_is_money(unit: str, after: str) -> bool:
    if unit != "块":
        return True
    return not (after and _HAN_CHAR.match(after) and after[0] not in _AFTER_KUAI_OK)


def _with_tenth(value: Decimal, tenth: str | None) -> Decimal:
    if not tenth:
        return value
    digit = _CN_DIGITS.get(tenth)
    if digit is None:
        digit = int(tenth)
    return value + Decimal(digit) / 10


def _zh_symbol_amount(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    value = parse_number(m[1])
    if value is None:
        return None
    return _money(value * _MULTIPLIERS.get(m[2] or "", 1), CNY)


def _zh_digit_amount(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    number, multiplier, unit, tenth = m[1], m[2], m[3], m[4]
    if not tenth and not _kuai_is_money(unit, after):
        return None
    if unit == "元" and after.startswith("旦"):
        return None  # 元旦, New Year's Day
    value = parse_number(number)
    if value is None:
        return None
    value = value * _MULTIPLIERS.get(multiplier or "", 1)
    return _money(_with_tenth(value, tenth), CNY)


def _zh_numeral_amount(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    number, unit, tenth = m[1], m[2], m[3]
    value = parse_number(number)
    if value is None:
        return None
    if not tenth:
        if not _kuai_is_money(unit, after):
            return None
        if unit == "块" and value < 10:
            return None  # 一块去 (together), 两块 (two pieces)
        if unit == "元" and after.startswith("旦"):
            return None
    return _money(_with_tenth(value, tenth), CNY)


def _usd_amount(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    value = parse_number(m[1])
    if value is None:
        return None
    multiplier = m[2] if m.re.groups >= 2 else None
    return _money(value * _MULTIPLIERS.get(multiplier or "", 1), USD)


def _zh_usd_amount(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    value = parse_number(m[1] or m[3])
    if value is None:
        return None
    return _money(value * _MULTIPLIERS.get(m[2] or "", 1), USD)


def _cny_amount(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    return _money(parse_number(m[1]), CNY)


_TENTH = (
    "([一二两三四五六七八九]|[1-9])(?:毛|角)?(?![0-9一二两三四五六七八九十百千万个件台次张份单])"
)
_ISO_DATE = r"(?<!\d)(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?!\d)"

ZH_RULES: Sequence[Rule] = (
    Rule(DATE, re.compile(_ISO_DATE), _zh_iso),
    Rule(
        DATE,
        re.compile(
            r"(?<!\d)(?:(\d{4}|[零〇一二三四五六七八九]{4})\s*年\s*)?"
            rf"(\d{{1,2}}|{_CN_DAY_NUM})\s*月\s*(\d{{1,2}}|{_CN_DAY_NUM})\s*[日号]"
        ),
        _zh_month_day,
    ),
    Rule(
        DATE,
        re.compile(
            "大前天|大后天|(?<![之以从提])前天|(?<![之以然今往最])后天|"
            "昨天|昨日|昨晚|今天|今日|今晚|今早|明天|明日|明早|明晚"
        ),
        _zh_relative_day,
    ),
    Rule(
        DATE,
        re.compile(
            r"(?:(上上|下下|上|下|这|本)\s*个?\s*)?"
            r"(?<![每一二两三四五六七八九十\d])(?:周|星期|礼拜)([一二三四五六日天1-7])(?![次个])"
        ),
        _zh_weekday,
    ),
    Rule(
        DATE,
        re.compile(
            r"(?<![\d.])(\d+|[零一二两三四五六七八九十百]+|半)\s*(个)?\s*"
            r"(天|周|星期|礼拜|月)\s*(以前|之前|以后|之后|前|后)"
        ),
        _zh_offset,
    ),
    Rule(
        AMOUNT,
        re.compile(rf"[¥￥]\s*({_NUM})\s*(万|千|k|K)?(?:\s*(?:元|块钱|块))?"),
        _zh_symbol_amount,
    ),
    Rule(
        AMOUNT,
        re.compile(rf"(?:人民币|RMB|rmb|CNY|cny)\s*({_NUM})(?:\s*元)?"),
        _cny_amount,
    ),
    Rule(
        AMOUNT,
        re.compile(
            rf"(?:US\$|USD|usd|\$|＄)\s*({_NUM})\s*(k|K)?|"
            rf"(?<![\d.])({_NUM})\s*(?:美元|美金|USD|usd|dollars?|bucks?)"
        ),
        _zh_usd_amount,
    ),
    Rule(
        AMOUNT,
        re.compile(
            rf"(?<![\d.,A-Za-z])({_NUM})\s*(万|千|k|K)?\s*(块钱|块|元|圆|RMB|rmb|人民币)"
            rf"(?:{_TENTH})?"
        ),
        _zh_digit_amount,
    ),
    Rule(
        AMOUNT,
        re.compile(rf"({_CN_NUM}(?:点[零〇一二三四五六七八九]+)?)\s*(块钱|块|元|圆)(?:{_TENTH})?"),
        _zh_numeral_amount,
    ),
)

# ----- English rules (applied to lower-cased spans found by the English matcher)

_EN_WEEKDAYS: dict[str, int] = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "weds": 2,
    "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4,
    "friday": 4, "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_EN_MONTHS: dict[str, int] = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3,
    "apr": 4, "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7,
    "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9, "oct": 10,
    "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_EN_RELATIVE_DAYS: dict[str, int] = {
    "today": 0, "tonight": 0, "tomorrow": 1, "tmr": 1, "tmrw": 1, "yesterday": -1,
}  # fmt: skip


def _alternation(words: Sequence[str]) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_EN_WEEKDAY_RE = _alternation(list(_EN_WEEKDAYS))
_EN_MONTH_RE = _alternation(list(_EN_MONTHS))
_EN_NUM_WORD = _alternation([*_EN_NUMBERS, "hundred"])
_EN_COUNT = rf"\d+|(?:{_EN_NUM_WORD})(?:[\s\-]+(?:and\s+)?(?:{_EN_NUM_WORD})){{0,3}}"
_EN_UNIT = r"days?|weeks?|months?"


def _en_unit(text: str) -> str:
    return text.rstrip("s")


def _en_weekday(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    modifier, weekday = m[1], _EN_WEEKDAYS[m[2]]
    if modifier in ("last", "past"):
        back = (today.weekday() - weekday) % 7 or 7
        return _iso(today - dt.timedelta(days=back))
    if modifier in ("next", "coming"):
        ahead = (weekday - today.weekday()) % 7 or 7
        return _iso(today + dt.timedelta(days=ahead))
    return _iso(_week_day(today, 0, weekday))


def _en_ago(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    count = _small_int(m[1])
    if count is None:
        return None
    sign = -1 if m[3] in ("ago", "before", "earlier") else 1
    return _iso(_shift(today, sign * count, _en_unit(m[2])))


def _en_in(m: re.Match[str], today: dt.date, after: str) -> Value | None:
    count = _small_int(m[1])
    if count is None:
        return None
    return _iso(_shift(today, count, _en_unit(m[2])))


def _en_month_day(
    month_text: str, day_text: str, year_text: str | None, today: dt.date
) -> Value | None:
    month, day = _EN_MONTHS[month_text], int(day_text)
    if year_text:
        return _iso(_make_date(int(year_text), month, day))
    return _iso(_closest_year(today, month, day))


EN_RULES: Sequence[Rule] = (
    Rule(DATE, re.compile(_ISO_DATE), _zh_iso),
    Rule(
        DATE,
        re.compile(r"\b(?:the\s+)?day\s+before\s+yesterday\b"),
        lambda m, today, after: _iso(today - dt.timedelta(days=2)),
    ),
    Rule(
        DATE,
        re.compile(r"\b(?:the\s+)?day\s+after\s+(?:tomorrow|tmrw?)\b"),
        lambda m, today, after: _iso(today + dt.timedelta(days=2)),
    ),
    Rule(
        DATE,
        re.compile(r"\b(today|tonight|tomorrow|tmrw|tmr|yesterday)\b"),
        lambda m, today, after: _iso(today + dt.timedelta(days=_EN_RELATIVE_DAYS[m[1]])),
    ),
    Rule(
        DATE,
        re.compile(rf"\b(last|past|next|coming|this)\s+({_EN_WEEKDAY_RE})\b\.?"),
        _en_weekday,
    ),
    Rule(
        DATE,
        re.compile(
            rf"\b({_EN_COUNT})\s+({_EN_UNIT})\s+"
            r"(ago|before|earlier|later|from\s+now|from\s+today)\b"
        ),
        _en_ago,
    ),
    Rule(DATE, re.compile(rf"\bin\s+({_EN_COUNT})\s+({_EN_UNIT})\b"), _en_in),
    Rule(
        DATE,
        re.compile(rf"\b({_EN_MONTH_RE})\.?\s*(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(\d{{4}})\b)?"),
        lambda m, today, after: _en_month_day(m[1], m[2], m[3], today),
    ),
    Rule(
        DATE,
        re.compile(
            rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_EN_MONTH_RE})\b\.?"
            r"(?:,?\s*(\d{4})\b)?"
        ),
        lambda m, today, after: _en_month_day(m[2], m[1], m[3], today),
    ),
    Rule(
        AMOUNT,
        re.compile(rf"(?:\bus\$|\busd|\$|＄)\s*({_NUM})\s*(k)?\b"),
        _usd_amount,
    ),
    Rule(
        AMOUNT,
        re.compile(rf"({_NUM}|{_EN_COUNT})\s*(?:dollars?|bucks?|usd)\b"),
        lambda m, today, after: _money(parse_number(m[1]), USD),
    ),
    Rule(
        AMOUNT,
        re.compile(rf"(?:[¥￥]|\brmb|\bcny)\s*({_NUM})"),
        _cny_amount,
    ),
    Rule(
        AMOUNT,
        re.compile(rf"({_NUM})\s*(?:yuan|rmb|cny|元)\b"),
        _cny_amount,
    ),
)

# ---------------------------------------------------------------- matcher patterns

_NUM_TOKEN = r"^\d+(?:,\d{3})*(?:\.\d+)?$"
_DAY_TOKEN = r"^\d{1,2}(?:st|nd|rd|th)?$"
_EN_NUM_TOKENS: list[dict[str, Any]] = [{"LIKE_NUM": True, "OP": "+"}]
_EN_A_TOKEN: list[dict[str, Any]] = [{"LOWER": {"IN": ["a", "an"]}}]
_EN_UNIT_TOKEN: dict[str, Any] = {
    "LOWER": {"IN": ["day", "days", "week", "weeks", "month", "months"]}
}
_MONTH_TOKEN: dict[str, Any] = {"LOWER": {"IN": list(_EN_MONTHS) + [f"{m}." for m in _EN_MONTHS]}}
_YEAR_TOKEN: dict[str, Any] = {"TEXT": {"REGEX": r"^\d{4}$"}}
_SEP_TOKEN: dict[str, Any] = {"TEXT": {"IN": ["-", "/", "."]}}
_MD_TOKEN: dict[str, Any] = {"TEXT": {"REGEX": r"^\d{1,2}$"}}
_ISO_PATTERNS: list[list[dict[str, Any]]] = [
    [{"TEXT": {"REGEX": r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$"}}],
    [_YEAR_TOKEN, _SEP_TOKEN, _MD_TOKEN, _SEP_TOKEN, _MD_TOKEN],
]


def _en_patterns() -> dict[str, list[list[dict[str, Any]]]]:
    dates: list[list[dict[str, Any]]] = [
        [{"LOWER": {"IN": list(_EN_RELATIVE_DAYS)}}],
        [
            {"LOWER": "the", "OP": "?"},
            {"LOWER": "day"},
            {"LOWER": {"IN": ["before", "after"]}},
            {"LOWER": {"IN": ["yesterday", "tomorrow", "tmr", "tmrw"]}},
        ],
        [
            {"LOWER": {"IN": ["last", "past", "next", "coming", "this"]}},
            {"LOWER": {"IN": list(_EN_WEEKDAYS)}},
        ],
        [{"LOWER": "in"}, *_EN_NUM_TOKENS, _EN_UNIT_TOKEN],
        [{"LOWER": "in"}, *_EN_A_TOKEN, _EN_UNIT_TOKEN],
        [
            _MONTH_TOKEN,
            {"LOWER": {"REGEX": _DAY_TOKEN}},
            {"ORTH": ",", "OP": "?"},
            _YEAR_TOKEN,
        ],
        [_MONTH_TOKEN, {"LOWER": {"REGEX": _DAY_TOKEN}}],
        [
            {"LOWER": {"REGEX": _DAY_TOKEN}},
            {"LOWER": "of", "OP": "?"},
            _MONTH_TOKEN,
            {"ORTH": ",", "OP": "?"},
            {**_YEAR_TOKEN, "OP": "?"},
        ],
        *_ISO_PATTERNS,
    ]
    for count in (_EN_NUM_TOKENS, _EN_A_TOKEN):
        for tail in (
            [{"LOWER": {"IN": ["ago", "later", "before", "earlier"]}}],
            [{"LOWER": "from"}, {"LOWER": {"IN": ["now", "today"]}}],
        ):
            dates.append([*count, _EN_UNIT_TOKEN, *tail])
    currency_before = {"LOWER": {"IN": ["$", "us$", "usd", "¥", "￥", "rmb", "cny", "＄"]}}
    currency_after = {
        "LOWER": {"IN": ["dollar", "dollars", "buck", "bucks", "usd", "yuan", "rmb", "cny"]}
    }
    amounts: list[list[dict[str, Any]]] = [
        [currency_before, {"LIKE_NUM": True}, {"LOWER": "k", "OP": "?"}],
        [*_EN_NUM_TOKENS, currency_after],
        [
            {"LOWER": {"IN": ["a", "an"]}, "OP": "?"},
            *_EN_NUM_TOKENS,
            {"LOWER": "and", "OP": "?"},
            *_EN_NUM_TOKENS,
            currency_after,
        ],
        [{"LOWER": {"REGEX": r"^(?:us\$|usd|rmb|cny|[$¥￥＄])\d[\d,]*(?:\.\d+)?k?$"}}],
        [{"LOWER": {"REGEX": r"^\d[\d,]*(?:\.\d+)?(?:usd|rmb|cny|yuan)$"}}],
    ]
    return {DATE: dates, AMOUNT: amounts}


def _zh_patterns() -> dict[str, list[list[dict[str, Any]]]]:
    relative = "|".join(sorted(_ZH_RELATIVE_DAYS, key=len, reverse=True))
    day_unit = {"TEXT": {"IN": ["日", "号"]}}
    dates: list[list[dict[str, Any]]] = [
        # jieba keeps 昨天 / 今天下午 / 昨天晚上 as one token
        [{"TEXT": {"REGEX": f"^(?:{relative})"}}],
        [
            {"TEXT": {"IN": ["上", "下", "这", "本", "上个", "下个", "这个"]}, "OP": "?"},
            {
                "TEXT": {
                    "REGEX": r"^(?:上上|下下|上|下|这|本)?个?(?:周|星期|礼拜)[一二三四五六日天1-7]$"
                }
            },
        ],
        [_YEAR_TOKEN, {"ORTH": "年"}, _MD_TOKEN, {"ORTH": "月"}, _MD_TOKEN, day_unit],
        [_MD_TOKEN, {"ORTH": "月"}, _MD_TOKEN, day_unit],
        [
            {"TEXT": {"REGEX": r"^\d+$"}},
            {"TEXT": {"REGEX": r"^(?:天|周|星期|个星期|个月)?(?:以前|之前|以后|之后|前|后)$"}},
        ],
        [
            {"TEXT": {"REGEX": r"^\d+$"}},
            {"TEXT": {"IN": ["天", "周", "星期", "个", "个星期", "个月"]}},
            {"TEXT": {"IN": ["月"]}, "OP": "?"},
            {"TEXT": {"IN": ["以前", "之前", "以后", "之后", "前", "后"]}},
        ],
        *_ISO_PATTERNS,
    ]
    number = {"TEXT": {"REGEX": _NUM_TOKEN}}
    amounts: list[list[dict[str, Any]]] = [
        [{"TEXT": {"IN": ["¥", "￥", "$", "＄"]}}, number],
        [number, {"TEXT": {"IN": ["元", "块", "块钱", "圆", "万元", "千元", "美元", "美金"]}}],
        [number, {"TEXT": {"IN": ["块", "万", "千"]}}, {"TEXT": {"IN": ["钱", "元"]}}],
    ]
    return {DATE: dates, AMOUNT: amounts}


# ------------------------------------------------------------------------ pipelines

_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Cheap pre-check: a message without any of these cannot hold a date or an amount.
_TRIGGER = re.compile(
    r"[0-9零〇一二两三四五六七八九十百千万今明昨前后周期拜月元块圆¥￥$＄]|"
    r"today|tonight|tomorrow|tmrw?\b|yesterday|"
    r"\b(?:last|past|next|coming|this|in|ago|later|earlier|from)\b|"
    r"dollar|bucks?|usd|rmb|cny|yuan",
    re.IGNORECASE,
)
# Full-width digits, letters and separators -> ASCII, and the traditional forms of the
# characters the rules use -> simplified, one character for one so offsets stay valid.
_FULL_WIDTH = str.maketrans(
    {
        **dict(zip("週禮後個兩塊錢號萬圓這點", "周礼后个两块钱号万圆这点", strict=True)),
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
        "．": ".",
        "－": "-",
        "／": "/",
        "：": ":",
    }
)


@dataclass(frozen=True)
class Found:
    """One extracted entity before it becomes a Rasa entity dict."""

    label: str
    start: int
    end: int
    value: str
    currency: str | None = None


class _Pipelines:
    """The blank spaCy pipelines and their matchers, built once per process."""

    def __init__(self) -> None:
        import spacy
        from spacy.attrs import ORTH
        from spacy.matcher import Matcher

        self.zh = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
        self.en = spacy.blank("en")
        # "wed" is otherwise split as "we'd"
        for special in ("wed", "Wed", "WED", "weds", "Weds"):
            self.en.tokenizer.add_special_case(special, [{ORTH: special}])
        self.zh_matcher = Matcher(self.zh.vocab, validate=True)
        self.en_matcher = Matcher(self.en.vocab, validate=True)
        for matcher, patterns in (
            (self.zh_matcher, _zh_patterns()),
            (self.en_matcher, _en_patterns()),
        ):
            for label, label_patterns in patterns.items():
                matcher.add(label, label_patterns)


@cache
def _pipelines(dictionary_path: str | None = None) -> _Pipelines:
    if dictionary_path:
        _load_jieba_dictionaries(dictionary_path)
    return _Pipelines()


def _load_jieba_dictionaries(path: str) -> None:
    import glob

    import jieba

    for user_dict in sorted(glob.glob(f"{path}/*")):
        logger.debug(f"Loading jieba user dictionary {user_dict}")
        jieba.load_userdict(user_dict)


def _best(
    rules: Sequence[Rule], label: str, text: str, end_context: str, today: dt.date
) -> tuple[int, int, Value] | None:
    """The longest rule match of ``label`` inside a matched span: (start, end, value).

    The offsets are relative to the span, so a matcher span that is longer than the
    expression (jieba's ``昨天晚上``, or ``49.99 3 days ago`` from a greedy number
    pattern) shrinks to the part the rule understood.
    """
    best: tuple[int, int, Value] | None = None
    for rule in rules:
        if rule.label != label:
            continue
        for m in rule.regex.finditer(text):
            value = rule.handler(m, today, text[m.end() :] + end_context)
            if value is None:
                continue
            if best is None or m.end() - m.start() > best[1] - best[0]:
                best = (m.start(), m.end(), value)
    return best


def _scan(rules: Sequence[Rule], text: str, today: dt.date) -> list[Found]:
    found: list[Found] = []
    for rule in rules:
        for m in rule.regex.finditer(text):
            value = rule.handler(m, today, text[m.end() :])
            if value is not None:
                found.append(Found(rule.label, m.start(), m.end(), value[0], value[1]))
    return found


def _longest_first(candidates: list[Found]) -> list[Found]:
    kept: list[Found] = []
    for item in sorted(candidates, key=lambda f: (f.start - f.end, f.start)):
        if all(item.end <= k.start or item.start >= k.end for k in kept):
            kept.append(item)
    return sorted(kept, key=lambda f: f.start)


# ------------------------------------------------------------------------ component


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class SpacyPatternExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts ``date`` and ``amount`` entities with spaCy matchers and rules."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # which entities to extract
            "dimensions": [DATE, AMOUNT],
            # dates are relative to today in this time zone ...
            "timezone": "Asia/Shanghai",
            # ... or to this fixed ISO date (tests, replays)
            "reference_date": None,
            # optional folder of jieba user dictionaries (JiebaTokenizer already loads
            # its own into the process-global jieba)
            "dictionary_path": None,
        }

    @staticmethod
    def required_packages() -> list[str]:
        """Any extra python dependencies required for this component to run."""
        return ["spacy", "jieba"]

    def __init__(self, config: dict[str, Any]) -> None:
        """Creates the extractor and builds (or reuses) the spaCy pipelines."""
        self._config = {**self.get_default_config(), **config}
        self._dimensions = set(self._config["dimensions"] or [DATE, AMOUNT])
        reference = self._config.get("reference_date")
        self._reference_date: dt.date | None = (
            dt.date.fromisoformat(str(reference)) if reference else None
        )
        self._tz = _timezone(self._config.get("timezone") or "Asia/Shanghai")
        self._pipes = _pipelines(self._config.get("dictionary_path"))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyPatternExtractor:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config)

    def today(self) -> dt.date:
        """The processing date: ``reference_date`` or today in ``timezone``."""
        if self._reference_date is not None:
            return self._reference_date
        return dt.datetime.now(self._tz).date()

    def extract(self, text: str | None, today: dt.date | None = None) -> list[dict[str, Any]]:
        """Returns the entities found in ``text`` (dates relative to ``today``)."""
        if not text:
            return []
        normalised = text.translate(_FULL_WIDTH)
        if not _TRIGGER.search(normalised):
            return []
        today = today or self.today()
        if _HAN.search(normalised):
            doc = self._pipes.zh(normalised)
            matcher, rules = self._pipes.zh_matcher, ZH_RULES
            candidates = _scan(rules, normalised, today)
        else:
            doc = self._pipes.en(normalised)
            matcher, rules = self._pipes.en_matcher, EN_RULES
            candidates = []
        lowered = rules is EN_RULES
        vocab = doc.vocab.strings
        for match_id, start, end in matcher(doc):
            span = doc[start:end]
            label = vocab[match_id]
            span_text = span.text.lower() if lowered else span.text
            best = _best(rules, label, span_text, normalised[span.end_char :], today)
            if best is not None:
                start, end, (value, currency) = best
                candidates.append(
                    Found(
                        label,
                        span.start_char + start,
                        span.start_char + end,
                        value,
                        currency,
                    )
                )
        entities: list[dict[str, Any]] = []
        for item in _longest_first(candidates):
            if item.label not in self._dimensions:
                continue
            entity: dict[str, Any] = {
                ENTITY_ATTRIBUTE_TYPE: item.label,
                ENTITY_ATTRIBUTE_START: item.start,
                ENTITY_ATTRIBUTE_END: item.end,
                ENTITY_ATTRIBUTE_VALUE: item.value,
            }
            if item.currency:
                entity["additional_info"] = {"currency": item.currency}
            entities.append(entity)
        return self.add_extractor_name(entities)

    def process(self, messages: list[Message]) -> list[Message]:
        """Adds ``date`` / ``amount`` entities to each message."""
        today = self.today()
        for message in messages:
            entities = self.extract(message.get(TEXT), today)
            if entities:
                message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages


def _timezone(name: str) -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - no tz database: China has no DST
        logger.warning(f"Unknown time zone {name!r}; using UTC+8.")
        return dt.timezone(dt.timedelta(hours=8))
