"""SpacyPatternExtractor: dates relative to a fixed reference date, and amounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from components.spacy_patterns import SpacyPatternExtractor, parse_cn_integer
from tests.components.conftest import message

# A Wednesday.
TODAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def extractor() -> SpacyPatternExtractor:
    return SpacyPatternExtractor({"reference_date": TODAY.isoformat()})


def found(extractor: SpacyPatternExtractor, text: str, label: str) -> list[tuple[str, str]]:
    """(matched text, value) of each entity with this label."""
    return [
        (text[e["start"] : e["end"]], e["value"])
        for e in extractor.extract(text, TODAY)
        if e["entity"] == label
    ]


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("今天能发货吗", "今天", "2026-11-25"),
        ("明天送得到吗", "明天", "2026-11-26"),
        ("后天在家", "后天", "2026-11-27"),
        ("我昨天付的款", "昨天", "2026-11-24"),
        ("前天下的单", "前天", "2026-11-23"),  # jieba: 前|天下
        ("大后天才有空", "大后天", "2026-11-28"),
        ("上周三买的水壶", "上周三", "2026-11-18"),
        ("下周一再送吧", "下周一", "2026-11-30"),
        ("这周五之前能到吗", "这周五", "2026-11-27"),
        ("上个星期天拍的", "上个星期天", "2026-11-22"),
        ("上週三買的", "上週三", "2026-11-18"),  # traditional
        ("3天前下的单", "3天前", "2026-11-22"),
        ("三天前下的单", "三天前", "2026-11-22"),  # jieba: 三天|前下
        ("两天后能到吗", "两天后", "2026-11-27"),
        ("一周前就申请了", "一周前", "2026-11-18"),
        ("两个月前买的", "两个月前", "2026-09-25"),
        ("11月3日下的单", "11月3日", "2026-11-03"),
        ("十一月三号买的", "十一月三号", "2026-11-03"),
        ("2025年12月1日买的", "2025年12月1日", "2025-12-01"),
        ("2026-11-03到货", "2026-11-03", "2026-11-03"),
    ],
)
def test_chinese_dates(extractor: SpacyPatternExtractor, text: str, span: str, value: str) -> None:
    assert found(extractor, text, "date") == [(span, value)]


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("can it come today", "today", "2026-11-25"),
        ("deliver the kettle tomorrow please", "tomorrow", "2026-11-26"),
        ("I paid yesterday", "yesterday", "2026-11-24"),
        ("ordered the day before yesterday", "the day before yesterday", "2026-11-23"),
        ("bought it last Wednesday", "last Wednesday", "2026-11-18"),
        ("bought it last wed", "last wed", "2026-11-18"),
        ("can you come next Monday", "next Monday", "2026-11-30"),
        ("placed 3 days ago", "3 days ago", "2026-11-22"),
        ("placed three days ago", "three days ago", "2026-11-22"),
        ("should arrive in 2 days", "in 2 days", "2026-11-27"),
        ("returned a week ago", "a week ago", "2026-11-18"),
        ("ordered on Nov 3", "Nov 3", "2026-11-03"),
        ("ordered on Nov. 3rd, 2025", "Nov. 3rd, 2025", "2025-11-03"),
        ("ordered on the 3rd of November", "3rd of November", "2026-11-03"),
        ("ordered on 2026-11-03", "2026-11-03", "2026-11-03"),
    ],
)
def test_english_dates(extractor: SpacyPatternExtractor, text: str, span: str, value: str) -> None:
    assert found(extractor, text, "date") == [(span, value)]


def test_month_and_day_take_the_closest_year(extractor: SpacyPatternExtractor) -> None:
    early_january = dt.date(2027, 1, 5)
    [entity] = extractor.extract("12月28日买的", early_january)
    assert entity["value"] == "2026-12-28"
    [entity] = extractor.extract("can it come on Jan 3", dt.date(2026, 12, 30))
    assert entity["value"] == "2027-01-03"


@pytest.mark.parametrize(
    "text",
    [
        "七天无理由退货",
        "7天无理由可以吗",
        "一周一次",
        "3月前发的货",  # before March, not three months ago
        "2月30日",  # no such day
        "DD202611010001",
        "13800138000",
        "之前天天催都没用",
        "I have been waiting for days",
    ],
)
def test_no_date(extractor: SpacyPatternExtractor, text: str) -> None:
    assert found(extractor, text, "date") == []


@pytest.mark.parametrize(
    ("text", "span", "value", "currency"),
    [
        ("退我¥299", "¥299", "299", "CNY"),
        ("退我￥299.50", "￥299.50", "299.5", "CNY"),
        ("一共299元", "299元", "299", "CNY"),
        ("花了299块", "299块", "299", "CNY"),
        ("花了200块买的", "200块", "200", "CNY"),
        ("299块钱的水壶", "299块钱", "299", "CNY"),
        ("才两百块", "两百块", "200", "CNY"),
        ("退三百五十元", "三百五十元", "350", "CNY"),
        ("一千二百块呢", "一千二百块", "1200", "CNY"),
        ("运费两块五", "两块五", "2.5", "CNY"),
        ("1.5万元的订单", "1.5万元", "15000", "CNY"),
        ("兩塊錢", "兩塊錢", "2", "CNY"),
        ("I paid $49.99 for it", "$49.99", "49.99", "USD"),
        ("it cost 49.99 dollars", "49.99 dollars", "49.99", "USD"),
        ("a $1,299.00 refund", "$1,299.00", "1299", "USD"),
        ("about fifty dollars", "fifty dollars", "50", "USD"),
        ("it was 299 yuan", "299 yuan", "299", "CNY"),
        ("200美元", "200美元", "200", "USD"),
    ],
)
def test_amounts(
    extractor: SpacyPatternExtractor, text: str, span: str, value: str, currency: str
) -> None:
    entities = [e for e in extractor.extract(text, TODAY) if e["entity"] == "amount"]
    assert [(text[e["start"] : e["end"]], e["value"]) for e in entities] == [(span, value)]
    assert entities[0]["additional_info"] == {"currency": currency}


@pytest.mark.parametrize(
    "text",
    ["少了3块电池", "我们一块去", "一块儿寄回来", "元旦能发货吗", "订单DD202611010001", "就299"],
)
def test_no_amount(extractor: SpacyPatternExtractor, text: str) -> None:
    assert found(extractor, text, "amount") == []


def test_date_and_amount_in_one_message(extractor: SpacyPatternExtractor) -> None:
    text = "I paid $49.99 3 days ago"
    assert [
        (e["entity"], text[e["start"] : e["end"]], e["value"])
        for e in extractor.extract(text, TODAY)
    ] == [
        ("amount", "$49.99", "49.99"),
        ("date", "3 days ago", "2026-11-22"),
    ]


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("三", 3), ("十五", 15), ("两百", 200), ("一百零五", 105), ("三百五", 350),
     ("一千二", 1200), ("两万五", 25000), ("二〇二六", 2026), ("万", None), ("abc", None)],
)  # fmt: skip
def test_chinese_numerals(numeral: str, value: int | None) -> None:
    assert parse_cn_integer(numeral) == value


def test_process_uses_the_configured_reference_date(
    create_component: Callable[..., Any],
) -> None:
    extractor = create_component(SpacyPatternExtractor, {"reference_date": "2026-11-25"})
    earlier = {"entity": "language", "value": "zh", "start": 0, "end": 9}
    first = message("上周三买的，退我299元")
    first.set("entities", [earlier])
    second, third = message("where is my kettle"), message(None)

    processed = extractor.process([first, second, third])

    assert processed[0].get("entities") == [
        earlier,
        {"entity": "date", "start": 0, "end": 3, "value": "2026-11-18",
         "extractor": "SpacyPatternExtractor"},
        {"entity": "amount", "start": 8, "end": 12, "value": "299",
         "additional_info": {"currency": "CNY"}, "extractor": "SpacyPatternExtractor"},
    ]  # fmt: skip
    assert not processed[1].get("entities")
    assert not processed[2].get("entities")


def test_dimensions_limit_the_labels(create_component: Callable[..., Any]) -> None:
    extractor = create_component(
        SpacyPatternExtractor, {"reference_date": "2026-11-25", "dimensions": ["amount"]}
    )
    [processed] = extractor.process([message("昨天付了299元")])
    assert [e["entity"] for e in processed.get("entities")] == ["amount"]


def test_today_defaults_to_the_date_in_the_configured_time_zone() -> None:
    extractor = SpacyPatternExtractor({"timezone": "Asia/Shanghai"})
    shanghai = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert extractor.today() == shanghai
