"""Builds the payments adapters from settings (called once by bot.bootstrap.payments)."""
from __future__ import annotations

import hashlib
import hmac

from bot.config import Settings
from bot.ledger.payments import SqlPayments
from bot.ledger.repository import SqlLedger
from bot.payments.gateway import PaymentGateway
from bot.payments.notifier import RasaTriggerNotifier
from bot.payments.sandbox import SandboxGateway
from bot.payments.service import PaymentsService


def derive_rasa_api_token(secret_key: str) -> str:
    """A stable token for Rasa's HTTP API, derived (HMAC-SHA256) from the deployment's secret key."""
    return hmac.new(secret_key.encode(), b"rasa-api-token", hashlib.sha256).hexdigest()


def build_gateway(settings: Settings) -> PaymentGateway:
    public_url = settings.public_backend_url
    if settings.stripe_api_key:
        from bot.payments.stripe_gateway import StripeGateway, make_stripe_client

        bases = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        client = make_stripe_client(settings.stripe_api_key, base_addresses=bases)
        return StripeGateway(client, public_url, settings.stripe_webhook_secret)
    return SandboxGateway(public_url, settings.stripe_webhook_secret)


def build_payments_service(settings: Settings, ledger: SqlLedger, rasa_api_token: str) -> PaymentsService:
    return PaymentsService(
        ledger=ledger,
        store=SqlPayments(ledger.engine),
        gateway=build_gateway(settings),
        notifier=RasaTriggerNotifier(settings.rasa_url, rasa_api_token),
        public_url=settings.public_backend_url,
    )
