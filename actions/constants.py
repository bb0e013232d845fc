"""Names shared by the actions: slots, intents, forms, handoff reasons."""

from __future__ import annotations

# Slots
SLOT_LANGUAGE = "language"
SLOT_CUSTOMER_ID = "customer_id"
SLOT_CHANNEL = "channel"
SLOT_ORDER_ID = "order_id"
SLOT_PHONE_LAST4 = "phone_last4"
SLOT_VERIFIED_ORDERS = "verified_orders"
SLOT_VERIFY_ATTEMPTS = "verify_attempts"
SLOT_PENDING_CONFIRMATION = "pending_confirmation"
SLOT_HANDOFF_REASON = "handoff_reason"
SLOT_CHANGE_FIELD = "change_field"
SLOT_NEW_VALUE = "new_value"
SLOT_CHANGE_CONFIRM = "change_confirm"
SLOT_RETURN_ITEM = "return_item"
SLOT_RETURN_REASON = "return_reason"
SLOT_RETURN_KIND = "return_kind"
SLOT_ORDER_BLOCKED = "order_blocked"
SLOT_RETURN_CONFIRM = "return_confirm"
SLOT_PROBLEM_KIND = "problem_kind"
SLOT_PROBLEM_DESCRIPTION = "problem_description"
REQUESTED_SLOT = "requested_slot"

# Identity checks: an unverified customer proves an order with the phone's last 4 digits.
MAX_VERIFY_ATTEMPTS = 3

# Intents that ask for something about one order; the order form serves them all.
TASK_INTENTS = (
    "order_status",
    "track_shipment",
    "cancel_order",
    "cancel_status",
    "refund_status",
)
FALLBACK_INTENT = "nlu_fallback"

# Handoff reasons (docs/contracts.md)
REASON_CUSTOMER_REQUEST = "customer_request"
REASON_FALLBACK = "fallback"
REASON_COMPLAINT = "complaint"
REASON_POLICY = "policy_exception"
REASON_LOGISTICS = "logistics_exception"
REASON_IDENTITY = "identity_failed"

# Pending confirmations: "<kind>:<order id>[:<extra>]"
CONFIRM_CANCEL = "cancel"
CONFIRM_HANDOFF = "handoff"
CONFIRM_REPAIR = "repair"
CONFIRM_RETURN = "start_return"

MAX_MESSAGE_CHARS = 2000
