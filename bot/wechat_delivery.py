"""Messages that reach WeChat customers outside their own request: agents and notices.

The WeChat channels deliver the replies to a customer message themselves (passively or
pushed). Everything else posted to a WeChat or WeCom conversation (an agent's reply, *agent
joined*, *resolved*, any later system message) is pushed through the channel's
customer-service API by ``WeChatPushListener``, a queued listener of ``message.sent``.

WeChat lets an account write to a customer only within 48 hours of the customer's last
message. ``WeChatReplyGuard`` refuses an agent's reply outside that window, before it is
stored, with a clear error in the inbox API (and likewise when the channel cannot send at
all, or when WeCom conversations are answered in WeCom).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot import events
from bot.channels.wechat_common import Outbound
from bot.channels.wecom import WeComOutbound
from bot.errors import Conflict
from bot.events import Event, EventBus
from bot.store import Stores
from bot.store.models import utcnow
from bot.store.records import ConversationRecord, MessageRecord
from bot.store.wechat import WeChatStore

WECHAT_CHANNELS = ("wechat", "wecom")
REPLY_WINDOW = timedelta(hours=48)


class ReplyWindowClosed(Conflict):
    """The customer's last message is older than the channel's reply window."""

    code = "window_closed"
    message = (
        "WeChat only lets us write to a customer within 48 hours of their last message, "
        "and this customer's last message is older. The reply was not sent; it can be sent "
        "once the customer writes again. "
        "微信只允许在客户最后一条消息后 48 小时内回复，该客户的最后一条消息已超过 48 小时，"
        "本条回复未发送；客户再次发消息后即可回复。"
    )


class ChannelCannotSend(Conflict):
    """The conversation's channel cannot carry agent replies from the inbox."""

    code = "channel_cannot_send"
    message = "Replies cannot be sent to this conversation's channel from the inbox."


class WeChatPushListener:
    """Pushes agent and system messages of WeChat conversations through the API."""

    def __init__(
        self,
        stores: Stores,
        outbounds: Mapping[str, Outbound],
        wecom: WeComOutbound | None = None,
    ) -> None:
        """Wire the listener.

        Args:
            stores: Gateway stores (for the conversation of an event).
            outbounds: Sending halves by channel name.
            wecom: The WeCom outbound, if WeCom sessions move to a person on claim.
        """
        self._stores = stores
        self._outbounds = dict(outbounds)
        self._wecom = wecom

    def subscribe(self, bus: EventBus) -> None:
        """Register as queued listeners (pushes never delay a reply or the inbox)."""
        bus.subscribe(events.MESSAGE_SENT, self.on_message_sent)
        if self._wecom is not None:
            bus.subscribe(events.AGENT_ASSIGNED, self.on_agent_assigned)

    async def _conversation(self, event: Event) -> ConversationRecord | None:
        conversation = await self._stores.conversations.get(event.conversation_id)
        if conversation is None or conversation.channel not in self._outbounds:
            return None
        return conversation

    async def on_message_sent(self, event: Event) -> None:
        """Push a stored message unless it answers a customer message (already delivered)."""
        record: MessageRecord = event.data["message"]
        if record.author == "customer" or record.reply_to_id is not None:
            return
        conversation = await self._conversation(event)
        if conversation is not None:
            self._outbounds[conversation.channel].deliver(conversation, [record])

    async def on_agent_assigned(self, event: Event) -> None:
        """Move a WeCom session to the receptionist when an agent takes it."""
        conversation = await self._conversation(event)
        if self._wecom is not None and conversation is not None:
            if conversation.channel == "wecom":
                self._wecom.hand_to_person(conversation)


class WeChatReplyGuard:
    """Refuses inbox replies that WeChat would not deliver."""

    def __init__(
        self,
        store: WeChatStore,
        outbounds: Mapping[str, Outbound],
        window: timedelta = REPLY_WINDOW,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Configure the guard.

        Args:
            store: Reads the customer's last message time.
            outbounds: Configured sending halves by channel name.
            window: How long after the customer's last message the API may write.
            clock: Current time.
        """
        self._store = store
        self._outbounds = dict(outbounds)
        self._window = window
        self._clock = clock

    async def __call__(self, conversation: ConversationRecord) -> None:
        """Raise if an agent's reply to ``conversation`` cannot be delivered.

        Raises:
            ChannelCannotSend: the channel is not set up for sending, or WeCom
                conversations are answered in WeCom.
            ReplyWindowClosed: the customer's last message is older than the window.
        """
        if conversation.channel not in WECHAT_CHANNELS:
            return
        outbound = self._outbounds.get(conversation.channel)
        if outbound is None or not getattr(outbound, "can_push", True):
            raise ChannelCannotSend(
                "This WeChat conversation cannot receive replies: the gateway has no "
                "customer-service API credentials for it (WECHAT_APPID/WECHAT_APPSECRET)."
            )
        if not outbound.agent_replies:
            raise ChannelCannotSend(
                "This WeCom conversation is answered in WeCom (WECOM_HANDOFF=wecom)."
            )
        last = await self._store.last_customer_message_at(conversation.id)
        if last is None or self._clock() - last > self._window:
            raise ReplyWindowClosed()
