"""Which policy channel an input channel falls under (creditors.yml names sms, whatsapp, webchat)."""
from __future__ import annotations

# Rasa's REST channel is an integration door to web chat; socket.io is the web chat page itself.
_POLICY_CHANNELS = {"sms": "sms", "whatsapp": "whatsapp", "webchat": "webchat", "rest": "webchat",
                    "socketio": "webchat"}
# Channels whose sender id is the consumer's phone number (E.164, or whatsapp:+E.164). `cmdline` is
# `rasa shell` (make shell): a trusted local caller like the REST channel; verification still follows.
PHONE_ADDRESSED = {"sms", "whatsapp", "rest", "cmdline"}


def policy_channel(input_channel: str | None) -> str:
    """Unknown channels are treated as web chat, the most restrictive place to disclose anything."""
    return _POLICY_CHANNELS.get(input_channel or "", "webchat")
