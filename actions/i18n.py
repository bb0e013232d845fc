"""Short labels the actions put into responses: statuses, reasons, fields, button titles.

Whole sentences live in i18n/responses.yml (sent by response name). These are the words
and phrases that fill their placeholders, so they are chosen here by language.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from actions.shop.policy import aware, shop_date, shop_timezone

Lang = str  # "zh" | "en"

_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "order_status": {
        "pending_payment": ("待付款", "awaiting payment"),
        "paid": ("已付款，待发货", "paid, not shipped yet"),
        "shipped": ("已发货，运输中", "shipped, in transit"),
        "delivered": ("已签收", "delivered"),
        "cancelled": ("已取消", "cancelled"),
        "returned": ("已退货", "returned"),
    },
    "status_detail": {
        "pending_payment": ("请在30分钟内完成付款。", "Please pay within 30 minutes."),
        "paid": ("通常付款后48小时内发货。", "Orders usually ship within 48 hours."),
        "shipped": ("可以说“查物流”查看最新轨迹。", "Say \"track it\" for the latest updates."),
        "delivered": ("签收7天内可无理由退货。", "Returns are open for 7 days after delivery."),
        "cancelled": ("", ""),
        "returned": ("", ""),
    },
    "return_status": {
        "requested": ("已提交，等待审核", "submitted, awaiting review"),
        "approved": ("已同意，请寄回商品", "approved, please send the item back"),
        "received": ("仓库已收货，退款处理中", "received by the warehouse, refund in progress"),
        "refunded": ("已退款", "refunded"),
        "rejected": ("未通过", "rejected"),
    },
    "return_reason": {
        "no_reason": ("七天无理由", "changed my mind"),
        "quality": ("质量问题", "quality problem"),
        "wrong_item": ("发错货", "wrong item"),
        "damaged": ("商品破损", "arrived damaged"),
    },
    "return_kind": {
        "return": ("退货退款", "return for a refund"),
        "exchange": ("换货", "exchange"),
        "refund": ("退款", "refund"),
        "repair": ("保修维修", "warranty repair"),
    },
    "problem_kind": {
        "wrong_item": ("发错货", "Wrong item"),
        "missing_item": ("少件/漏发", "Something is missing"),
        "damaged": ("商品破损", "Arrived damaged"),
        "not_received": ("显示签收但没收到", "Marked delivered, not received"),
    },
    "change_field": {
        "address": ("收货地址", "delivery address"),
        "phone": ("收货人手机号", "contact phone"),
        "delivery_time": ("配送时间", "delivery time"),
    },
    "delivery_time": {
        "weekday": ("仅工作日", "weekdays only"),
        "weekend": ("仅周末", "weekends only"),
        "anytime": ("任意时间", "any time"),
    },
    "payment_method": {
        "wechat_pay": ("微信支付", "WeChat Pay"),
        "alipay": ("支付宝", "Alipay"),
        "card": ("银行卡", "bank card"),
        "cod": ("银行账户", "bank account"),
    },
    "logistics_problem": {
        "overdue": ("已超过预计送达时间仍未送达", "is past its expected delivery date"),
        "stale": ("已超过3天没有物流更新", "has had no tracking update for 3 days"),
    },
    "button": {
        "yes": ("是的", "Yes"),
        "no": ("不用了", "No"),
        "human": ("转人工客服", "Talk to a person"),
        "return": ("申请退货", "Start a return"),
        "track": ("查物流", "Track it"),
    },
    # Sentences that fill a placeholder of a response ({} fields filled by `phrase`).
    "phrase": {
        "delivered_on": ("已于{day}签收。", "Delivered on {day}."),
        "expected_on": ("预计 {day} 送达。", "Expected delivery: {day}."),
        "refund_issued": (
            "已于{issued}退款，预计{first}至{last}到账。",
            "Issued {issued}; it reaches you between {first} and {last}.",
        ),
        "refund_pending": (
            "仓库验收后发起退款，{low}-{high}个工作日到账。",
            "The refund is issued once the warehouse checks the item and arrives within "
            "{low}-{high} business days.",
        ),
    },
    "change_problem": {
        "address": (
            "地址需8-120个字，包含省市区和详细地址",
            "an address needs 8-120 characters with city and street",
        ),
        "phone": ("需要11位手机号", "it needs to be a valid mobile number"),
        "delivery_time": (
            "可选仅工作日、仅周末、任意时间或14天内的日期",
            "choose weekdays, weekends, any time or a date within 14 days",
        ),
    },
}

# Readable descriptions of intents for the clarifying question after a fallback.
INTENT_LABELS: dict[str, tuple[str, str]] = {
    "order_status": ("查订单状态", "Check an order"),
    "track_shipment": ("查物流", "Track a parcel"),
    "shipping_policy": ("配送时效", "Delivery times"),
    "change_order": ("修改地址/电话/配送时间", "Change address or delivery"),
    "cancel_order": ("取消订单", "Cancel an order"),
    "cancel_status": ("查询取消结果", "Was my order cancelled?"),
    "request_return": ("申请退换货", "Return or exchange"),
    "refund_status": ("查退款进度", "Where is my refund?"),
    "return_policy": ("退换货政策", "Return policy"),
    "report_problem": ("商品有问题", "Report a problem"),
    "complain": ("投诉", "Make a complaint"),
    "human_agent": ("转人工客服", "Talk to a person"),
    "payment_question": ("支付问题", "Payment"),
    "check_points": ("查积分", "My points"),
    "loyalty_rules": ("会员与积分规则", "Membership and points rules"),
    "ask_coupons": ("优惠券", "Coupons"),
}


def label(group: str, key: str | None, lang: Lang) -> str:
    """The label of `key` in `group` for a language; the key itself when unknown."""
    if key is None:
        return ""
    pair = _LABELS[group].get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def phrase(key: str, lang: Lang, **values: object) -> str:
    """A sentence from the `phrase` group with its fields filled in."""
    return label("phrase", key, lang).format(**values)


def separator(lang: Lang) -> str:
    """How items of a list are joined in a sentence."""
    return "; " if lang == "en" else "；"


def intent_label(intent: str, lang: Lang) -> str | None:
    """Readable description of an intent, or None for intents not offered as choices."""
    pair = INTENT_LABELS.get(intent)
    if pair is None:
        return None
    return pair[1] if lang == "en" else pair[0]


def money(amount: Decimal | float | int | None) -> str:
    """Formats an amount of yuan with two decimals."""
    return f"{Decimal(amount or 0):.2f}"


def day(value: date | datetime | None, lang: Lang) -> str:
    """Formats a date (a timestamp as its day in the shop's time zone)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = shop_date(value)
    if lang == "en":
        return value.strftime("%d %b %Y").lstrip("0")
    return f"{value.year}年{value.month}月{value.day}日"


def moment(value: datetime | None, lang: Lang) -> str:
    """Formats a timestamp to the minute."""
    if value is None:
        return ""
    local = aware(value).astimezone(shop_timezone())
    return f"{day(local, lang)} {local.strftime('%H:%M')}"
