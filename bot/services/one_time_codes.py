"""Web chat possession codes: a visitor who types an account reference proves they hold the phone or
the email address on file, whichever they choose.

The answer never tells whether the reference exists: a reference that matches nobody gets the same
reply, with stable look-alike hints in place of the phone's last two digits or the masked email, and a
code that no guess can match. The visitor is always asked to choose phone or email, whatever is on
file (asking only when both exist would tell which references exist); choosing email for a consumer
with no email on file gets the same reply as an unknown reference, and typing the reference again
starts over. Codes are random, six digits, stored as keyed hashes (never in clear, not even in
the outbound record), valid for 10 minutes and 5 guesses, and used once. A conversation may ask
for 3 codes an hour; past 3 codes an hour for one consumer, requests are answered alike but
nothing more is sent (no texting a consumer on a stranger's behalf).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from bot.domain.accounts import account_ref_key
from bot.services.outbound import OutboundMessage

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_GUESSES = 5
RATE_PERIOD = timedelta(hours=1)
MAX_REQUESTS_PER_CONVERSATION = 3
MAX_CODES_PER_CONSUMER = 3


ROUTES = ("phone", "email")


@dataclass(frozen=True)
class CodeRequest:
    outcome: str  # "sent" (as far as the visitor can tell) | "rate_limited"
    hint: str = ""  # shown to the visitor: the phone's last two digits, or the masked email
    route: str = "phone"


@dataclass(frozen=True)
class CodeCheck:
    outcome: str  # "confirmed" | "wrong" | "expired" | "locked" | "none"
    consumer_id: Optional[int] = None
    account_ref: Optional[str] = None
    attempts_left: int = 0


class OneTimeCodes:
    def __init__(self, ledger, messaging, outbound, secret: str,
                 clock: Optional[Callable[[], datetime]] = None,
                 make_code: Optional[Callable[[], str]] = None) -> None:
        self.ledger = ledger
        self.messaging = messaging
        self.outbound = outbound
        self._key = hmac.new(secret.encode(), b"one-time-codes", hashlib.sha256).digest()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._make_code = make_code or (lambda: f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}")

    def _hash(self, conversation_id: str, code: str) -> str:
        return hmac.new(self._key, f"{conversation_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def _look_alike_hint(self, typed_ref: str, route: str) -> str:
        digest = hmac.new(self._key, f"hint:{account_ref_key(typed_ref)}".encode(), hashlib.sha256).digest()
        if route == "email":
            letters = "abcdefghijklmnoprstw"
            return mask_email(f"{letters[digest[4] % len(letters)]}x@{letters[digest[5] % len(letters)]}x")
        return f"{int.from_bytes(digest[:4], 'big') % 100:02d}"

    async def request(self, conversation_id: str, typed_ref: str, language: Optional[str] = None,
                      route: str = "phone") -> CodeRequest:
        """Send a code to the phone (SMS) or email on file of the account `typed_ref` names, if it names one."""
        if route not in ROUTES:
            raise ValueError(f"route must be one of {ROUTES}, got {route!r}")
        now = self._clock()
        if await asyncio.to_thread(self.messaging.code_requests_since, now - RATE_PERIOD,
                                   conversation_id=conversation_id) >= MAX_REQUESTS_PER_CONVERSATION:
            return CodeRequest("rate_limited")
        consumer = await asyncio.to_thread(self.ledger.consumer_by_account_ref, typed_ref)
        if consumer is not None and route == "email" and not consumer.email:
            consumer = None  # nowhere to send it: answered like a reference that matches nobody
        code = self._make_code()
        account_ref = None
        if consumer is not None:
            account_ref = (await asyncio.to_thread(self.ledger.statement, typed_ref)).account_ref
            recent = await asyncio.to_thread(self.messaging.code_requests_since, now - RATE_PERIOD,
                                             consumer_id=consumer.id)
        await asyncio.to_thread(
            self.messaging.store_code, conversation_id, consumer.id if consumer else None, account_ref,
            self._hash(conversation_id, code) if consumer else secrets.token_hex(32), now, now + CODE_TTL,
        )
        if consumer is None:
            return CodeRequest("sent", self._look_alike_hint(typed_ref, route), route)
        channel, address = ("email", consumer.email) if route == "email" else ("sms", consumer.phone)
        if recent < MAX_CODES_PER_CONSUMER:
            await self.outbound.send(OutboundMessage(
                purpose="one_time_code", response="utter_one_time_code", channel=channel, address=address,
                arguments={"code": code}, consumer_id=consumer.id, language=language or consumer.language,
                masked=(code,), subject="utter_one_time_code_subject",
            ))
        hint = mask_email(consumer.email) if route == "email" else consumer.phone[-2:]
        return CodeRequest("sent", hint, route)

    async def check(self, conversation_id: str, typed: str) -> CodeCheck:
        return await asyncio.to_thread(self._check, conversation_id, typed)

    def _check(self, conversation_id: str, typed: str) -> CodeCheck:
        now = self._clock()
        stored = self.messaging.latest_code(conversation_id)
        if stored is None:
            return CodeCheck("none")
        if stored.used_at is not None or stored.expires_at <= now:
            return CodeCheck("expired")
        if stored.attempts >= MAX_GUESSES:
            return CodeCheck("locked")
        guesses = self.messaging.count_code_attempt(stored.id)
        right = stored.consumer_id is not None and hmac.compare_digest(
            self._hash(conversation_id, typed), stored.code_hash)
        if right and guesses <= MAX_GUESSES and self.messaging.use_code(stored.id, now):
            return CodeCheck("confirmed", stored.consumer_id, stored.account_ref)
        left = max(0, MAX_GUESSES - guesses)
        return CodeCheck("wrong" if left else "locked", attempts_left=left)


def mask_email(address: str) -> str:
    """Enough of an address for its owner to recognise it: 'm•••@e•••'."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain[:1]}•••"
