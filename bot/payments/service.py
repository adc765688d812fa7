"""PaymentsService: pay in full or in part, settle, promise, plan, and follow the money back.

The conversation (actions) calls this; the backend's web routes and `python -m bot run-due` call it
too. Everything here is blocking (database, gateway and Rasa calls): async code runs it with
`asyncio.to_thread`. Rules it enforces whatever the conversation asked for:
- nothing is requested from an account whose collection is stopped (cease communication,
  bankruptcy, attorney, deceased) or whose balance is entirely on hold (a dispute);
- amounts are within the collectible balance and the creditor's minimums; settlements at or above
  the floor; plans and promises within policy (bot.domain.plans re-checks every proposal);
- money is recorded only from gateway events (webhooks, sandbox completions, off-session charge
  results), each applied exactly once by SqlPayments;
- consumers hear about outcomes through the notification outbox, within contact hours unless the
  outcome answers what they just did.
"""
from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Callable, List, Optional, Sequence, Tuple

from bot.domain.accounts import Statement
from bot.domain.money import Money
from bot.domain.plans import PlanProposal, Settlement, plan_problem, promise_problem
from bot.domain.plans import propose_plans as domain_propose_plans
from bot.domain.plans import settlement_offer as domain_settlement_offer
from bot.ledger.payments import PAYABLE_STATUSES, AccountInfo, Applied, SqlPayments, new_request_id
from bot.ledger.repository import SqlLedger
from bot.payments import gateway as g
from bot.payments import model as m
from bot.payments.labels import purpose_label
from bot.payments.model import (  # noqa: F401  (re-exported: callers import the errors from the service)
    PaymentDelayed,
    PaymentRefused,
    PaymentUnavailable,
    PlanRefused,
    PlansNotAllowed,
    PromiseRefused,
    UnknownPaymentRequest,
)
from bot.payments.notifier import ConsumerNotifier, NotificationFailed
from bot.payments.quiet_hours import local_moment, local_today
from bot.payments.sandbox import CardInputError, SandboxGateway

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NOTIFICATION_LEASE = timedelta(minutes=5)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class PaymentsService:
    """See the module docstring. `store` is SqlPayments on the ledger's engine; `gateway` the Stripe or
    sandbox adapter; `notifier` tells consumers (Rasa's trigger_intent); `clock` returns aware UTC."""

    def __init__(
        self,
        ledger: SqlLedger,
        store: SqlPayments,
        gateway: g.PaymentGateway,
        notifier: ConsumerNotifier,
        clock: Clock = utc_now,
        public_url: str = "http://localhost:8000",
        policy: m.RetryPolicy = m.RetryPolicy(),
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.gateway = gateway
        self.notifier = notifier
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.policy = policy

    # --- helpers ------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return now.astimezone(timezone.utc)

    def _load(self, account_ref: str) -> Tuple[Statement, AccountInfo, datetime, date]:
        statement = self.ledger.statement(account_ref)  # AccountNotFound for an unknown reference
        info = self.store.account(statement.account_ref)
        now = self._now()
        return statement, info, now, local_today(now, statement.consumer.timezone)

    @staticmethod
    def _stop_reason(statement: Statement, info: AccountInfo) -> Optional[str]:
        if info.stop_reason:
            return info.stop_reason
        if statement.balance.minor > 0 and statement.collectible.is_zero() and not statement.held.is_zero():
            return "on_hold"
        return None

    def _settlement(self, statement: Statement, info: AccountInfo, now: datetime,
                    today: date) -> Tuple[Optional[Settlement], Optional[int]]:
        """The standing settlement offer (made once and kept until it expires or the balance changes)."""
        policy = statement.creditor.policy
        collectible = statement.collectible
        if not policy.settlements_allowed or collectible.minor <= 0:
            return None, None
        row = self.store.settlement_offer(info.id, collectible.minor, today)
        if row is None:
            offer = domain_settlement_offer(collectible, policy, today)
            if offer is None:
                return None, None
            offer_id = self.store.save_settlement_offer(info.id, offer.amount.minor, collectible.minor,
                                                        collectible.currency, int(policy.settlement_floor_percent),
                                                        offer.expires, now)
            return offer, offer_id
        return Settlement(Money(row.amount_minor, row.currency), row.expires_on, collectible), row.id

    # --- what the consumer may do -------------------------------------------------------------------

    def options(self, account_ref: str) -> m.PaymentOptions:
        """Pay, settle, plan, promise: what policy and the account allow now. Makes (or reuses) the
        settlement offer, so the amount and expiry the bot quotes are the ones a payment will honour."""
        statement, info, now, today = self._load(account_ref)
        policy = statement.creditor.policy
        stop = self._stop_reason(statement, info)
        settlement = None if stop else self._settlement(statement, info, now, today)[0]
        currency = statement.currency
        minimum = Money(policy.min_partial_payment, currency) if policy.min_partial_payment else None
        plan = self.store.current_plan(info.id)
        return m.PaymentOptions(
            account_ref=statement.account_ref,
            currency=currency,
            balance=statement.balance,
            collectible=statement.collectible,
            minimum_partial=minimum,
            settlement=settlement,
            plans_allowed=bool(policy.plans_allowed and policy.frequencies) and stop is None,
            frequencies=tuple(policy.frequencies),
            max_installments=policy.max_installments,
            min_installment=policy.min_installment,
            promise_max_days=policy.promise_max_days,
            collection_stopped=stop is not None,
            stop_reason=stop,
            has_live_plan=plan is not None and plan.status in ("pending", "active"),
        )

    # --- one-time payments --------------------------------------------------------------------------

    def request_payment(
        self,
        account_ref: str,
        amount: Optional[Money],
        purpose: str,
        conversation_id: Optional[str] = None,
        channel: Optional[str] = None,
    ) -> m.PaymentRequest:
        """A payment link for `purpose` full | partial | settlement. `amount` may be None for full (the
        collectible balance) and settlement (the offer). An amount equal to the collectible balance is a
        full payment whatever purpose was asked. Raises PaymentRefused(reason) or PaymentUnavailable."""
        if purpose not in ("full", "partial", "settlement"):
            raise ValueError(f"purpose must be full, partial or settlement, got {purpose!r}")
        statement, info, now, today = self._load(account_ref)
        policy = statement.creditor.policy
        collectible = statement.collectible
        if self._stop_reason(statement, info):
            raise m.PaymentRefused("collection_stopped")
        if collectible.minor <= 0:
            raise m.PaymentRefused("nothing_due")
        if amount is not None and amount.currency != collectible.currency:
            raise m.PaymentRefused("invalid_amount")
        offer_id = None
        expires_at = now + timedelta(hours=self.policy.request_ttl_hours)
        if purpose == "settlement":
            offer, offer_id = self._settlement(statement, info, now, today)
            if offer is None:
                raise m.PaymentRefused("settlement_not_offered")
            if amount is None:
                amount = offer.amount
            elif amount < offer.amount:
                raise m.PaymentRefused("below_minimum", offer.amount)
            offer_end = local_moment(offer.expires + timedelta(days=1), 0, statement.consumer.timezone, timezone.utc)
            expires_at = min(expires_at, offer_end)
        elif purpose == "full" and amount is None:
            amount = collectible
        if amount is None or amount.minor <= 0:
            raise m.PaymentRefused("invalid_amount")
        if amount > collectible:
            raise m.PaymentRefused("above_balance", collectible)
        if amount == collectible:
            purpose, offer_id = "full", None
        elif purpose == "full":
            purpose = "partial"
        if purpose == "partial" and policy.min_partial_payment and amount.minor < policy.min_partial_payment:
            raise m.PaymentRefused("below_minimum", Money(policy.min_partial_payment, amount.currency))
        request_id = new_request_id()
        self.store.create_request(dict(
            id=request_id, account_id=info.id, amount_minor=amount.minor, currency=amount.currency, purpose=purpose,
            status="open", gateway=self.gateway.name, idempotency_key=f"payreq:{request_id}", save_method=False,
            settlement_offer_id=offer_id, refunded_minor=0, disputed_minor=0, conversation_id=conversation_id,
            channel=channel, expires_at=expires_at, created_at=now, updated_at=now))
        try:
            url = self._checkout(request_id, info, amount, purpose, expires_at, save_method=False)
        finally:  # a page made now or queued for later replaces the older ones; a refusal (abandoned) does not
            if self.store.request_row(request_id).status == "open":
                for gateway_ref in self.store.supersede_open_requests(info.id, request_id, now):
                    self.gateway.cancel_checkout(gateway_ref)
        return m.PaymentRequest(request_id, url, amount, expires_at, purpose)

    def _checkout(self, request_id: str, info: AccountInfo, amount: Money, purpose: str, expires_at: datetime,
                  save_method: bool, customer_ref: Optional[str] = None, seq: Optional[int] = None,
                  count: Optional[int] = None) -> str:
        description = f"{info.creditor_name}: {purpose_label(purpose, info.language, seq, count)} ({info.account_ref})"
        try:
            checkout = self.gateway.create_checkout(g.CheckoutRequest(
                request_id=request_id, account_ref=info.account_ref, amount=amount, purpose=purpose,
                description=description, idempotency_key=f"payreq:{request_id}", expires_at=expires_at,
                save_method=save_method, customer_ref=customer_ref, customer_email=info.email,
                language=info.language))
        except g.GatewayUnavailable as exc:
            logger.warning("checkout for payment request %s queued, the gateway is unavailable: %s", request_id, exc)
            raise m.PaymentDelayed(request_id) from None
        except g.GatewayError as exc:
            logger.warning("checkout for payment request %s failed: %s", request_id, exc)
            self.store.abandon_request(request_id, self._now())
            raise m.PaymentUnavailable(str(exc)) from None
        self.store.set_checkout(request_id, checkout.url, checkout.gateway_ref, checkout.customer_ref, self._now())
        return checkout.url

    # --- plans --------------------------------------------------------------------------------------

    def propose_plans(self, account_ref: str, frequency: Optional[str] = None, affordable: Optional[Money] = None,
                      first_due: Optional[date] = None) -> List[PlanProposal]:
        """Plans within policy for the collectible balance (bot.domain.plans.propose_plans); [] when none
        fits (e.g. what the consumer can afford is under the creditor's minimum installment). Raises
        PlansNotAllowed when the creditor allows no plans or collection is stopped."""
        statement, info, now, today = self._load(account_ref)
        policy = statement.creditor.policy
        if self._stop_reason(statement, info):
            raise m.PlansNotAllowed("collection_stopped")
        if not policy.plans_allowed or not policy.frequencies:
            raise m.PlansNotAllowed()
        return domain_propose_plans(statement.collectible, policy, today, frequency, affordable, first_due)

    def create_plan(self, account_ref: str, proposal: PlanProposal, conversation_id: Optional[str] = None,
                    channel: Optional[str] = None) -> m.CreatedPlan:
        """Create the confirmed plan. Its setup page charges the first installment when it is due today
        (saving the card for the rest), or only saves the card when the first date is later. Raises
        PlansNotAllowed, PlanRefused(reason: plan_problem codes, plan_exists, collection_stopped) or
        PaymentUnavailable."""
        return self._create_plan(account_ref, proposal, conversation_id, channel, replace=False)

    def change_plan(self, account_ref: str, proposal: PlanProposal, conversation_id: Optional[str] = None,
                    channel: Optional[str] = None) -> m.CreatedPlan:
        """Replace the live plan with `proposal` (built by propose_plans for the balance left). The card
        on file carries over, so no setup page is needed then (setup_url None)."""
        statement, info, _, _ = self._load(account_ref)
        current = self.store.current_plan(info.id)
        if current is None or current.status not in ("pending", "active"):
            raise m.PlanRefused("no_plan")
        return self._create_plan(account_ref, proposal, conversation_id, channel, replace=True)

    def _create_plan(self, account_ref: str, proposal: PlanProposal, conversation_id: Optional[str],
                     channel: Optional[str], replace: bool) -> m.CreatedPlan:
        statement, info, now, today = self._load(account_ref)
        policy = statement.creditor.policy
        if self._stop_reason(statement, info):
            raise m.PlanRefused("collection_stopped")
        if not policy.plans_allowed or not policy.frequencies:
            raise m.PlansNotAllowed()
        if statement.collectible.minor <= 0:
            raise m.PlanRefused("nothing_due")
        problem = plan_problem(proposal, statement.collectible, policy, today)
        if problem:
            raise m.PlanRefused(problem)
        method, customer = self.store.live_plan_method(info.id) if replace else (None, None)
        tz = statement.consumer.timezone
        attempts_at = [max(now, local_moment(i.due, self.policy.charge_hour_local, tz, timezone.utc))
                       for i in proposal.installments]
        setup = None
        if method is None:
            first_now = proposal.first_due <= today
            request_id = new_request_id()
            amount = proposal.installments[0].amount if first_now else Money.zero(statement.currency)
            setup = dict(
                id=request_id, account_id=info.id, amount_minor=amount.minor, currency=amount.currency,
                purpose="installment" if first_now else "setup", status="open", gateway=self.gateway.name,
                idempotency_key=f"payreq:{request_id}", save_method=True, refunded_minor=0, disputed_minor=0,
                conversation_id=conversation_id, channel=channel,
                expires_at=now + timedelta(hours=self.policy.request_ttl_hours), created_at=now, updated_at=now)
        plan_id = self.store.create_plan(info.id, proposal, attempts_at, conversation_id, channel, now,
                                         payment_method_ref=method, customer_ref=customer, setup_request=setup,
                                         replace_live=replace)
        url = None
        if setup is not None:
            url = self._checkout(setup["id"], info, Money(setup["amount_minor"], setup["currency"]), setup["purpose"],
                                 setup["expires_at"], save_method=True, seq=1, count=proposal.count)
        return m.CreatedPlan(plan_id, proposal.frequency, "active" if method else "pending", proposal.installments,
                             url, setup["id"] if setup else None)

    def cancel_plan(self, account_ref: str) -> bool:
        """Cancel the live plan (its future installments and open setup page); False when there is none."""
        statement, info, now, _ = self._load(account_ref)
        return self.store.cancel_live_plan(info.id, now)

    def plan(self, account_ref: str) -> Optional[m.PlanView]:
        """The live plan, else the most recent one."""
        _, info, _, _ = self._load(account_ref)
        return self.store.current_plan(info.id)

    # --- promises -----------------------------------------------------------------------------------

    def record_promise(self, account_ref: str, amount: Money, due: date, conversation_id: Optional[str] = None,
                       channel: Optional[str] = None) -> m.Promise:
        """Record a confirmed promise (replacing a pending one). Raises PromiseRefused(reason) with the
        codes of bot.domain.plans.promise_problem, or collection_stopped."""
        statement, info, now, today = self._load(account_ref)
        if self._stop_reason(statement, info):
            raise m.PromiseRefused("collection_stopped")
        problem = promise_problem(amount, due, today, statement.creditor.policy, statement.collectible)
        if problem:
            raise m.PromiseRefused(problem)
        promise_id = self.store.create_promise(info.id, amount, due, conversation_id, channel, now)
        return m.Promise(promise_id, statement.account_ref, amount, due, "pending", now)

    # --- status and lookups -------------------------------------------------------------------------

    def status(self, account_ref: str) -> m.PaymentStatus:
        """"Did my payment go through?": recent requests (newest first), the plan, pending promises."""
        statement, info, _, _ = self._load(account_ref)
        return m.PaymentStatus(
            account_ref=statement.account_ref,
            balance=statement.balance,
            collectible=statement.collectible,
            requests=tuple(self.store.recent_requests(info.id)),
            plan=self.store.current_plan(info.id),
            promises=tuple(self.store.promises(info.id, pending_only=True)),
        )

    def payment_request(self, request_id: str) -> m.PaymentRequestView:
        """One request by id (what EXTERNAL_payment_outcome carries): amount, status, outcome, purpose,
        account_ref, decline_reason, balance_after, plan details. Raises UnknownPaymentRequest."""
        view = self.store.request_view(request_id)
        if view is None:
            raise m.UnknownPaymentRequest(request_id)
        return view

    # --- the money coming back ----------------------------------------------------------------------

    def complete_sandbox_payment(self, request_id: str, card_number: str, exp: str, cvc: str,
                                 deliver: bool = True) -> m.SandboxOutcome:
        """The sandbox page's form: charge the test card (in memory only) and apply the outcome like a
        webhook. The card number is never stored, logged or returned."""
        if not isinstance(self.gateway, SandboxGateway):
            raise m.UnknownPaymentRequest(request_id)  # with Stripe, payments happen on Stripe's page
        row = self.store.request_row(request_id)
        if row is None:
            raise m.UnknownPaymentRequest(request_id)
        now = self._now()
        if row.status not in PAYABLE_STATUSES or row.expires_at <= now or row.url is None:
            code = row.status if row.status not in PAYABLE_STATUSES else "expired"
            return m.SandboxOutcome("not_payable", code, self.payment_request(request_id))
        info = self.store.account(self.payment_request(request_id).account_ref)
        try:
            attempt = self.gateway.pay(request_id, row.amount_minor, row.currency, card_number, exp, cvc,
                                       local_today(now, info.timezone), row.save_method)
        except CardInputError as exc:
            return m.SandboxOutcome("invalid", exc.code, self.payment_request(request_id))
        applied = self.store.apply_event(attempt.event, now, self.policy)
        if deliver:
            self.deliver_notifications(ids=applied.notifications)
        status = "succeeded" if attempt.succeeded else "declined"
        return m.SandboxOutcome(status, attempt.decline_code, self.payment_request(request_id))

    def parse_webhook(self, payload: bytes, signature: Optional[str]) -> g.GatewayEvent:
        """Verify and normalize (raises InvalidWebhook: answer 400, change nothing)."""
        return self.gateway.parse_webhook(payload, signature)

    def handle_gateway_event(self, event: g.GatewayEvent, deliver: bool = True) -> Applied:
        """Apply a verified event exactly once (a redelivery is a no-op; an early refund waits for its
        payment), then deliver the notifications it queued unless `deliver` is False."""
        applied = self.store.apply_event(event, self._now(), self.policy)
        if deliver and applied.notifications:
            self.deliver_notifications(ids=applied.notifications)
        return applied

    # --- the scheduler ------------------------------------------------------------------------------

    def run_due(self, now: Optional[datetime] = None) -> m.RunDueSummary:
        """Expire old links, charge due installments (each attempt exactly once, even with several
        schedulers), resolve promises whose date has passed, and deliver queued notifications."""
        now = (now or self._now()).astimezone(timezone.utc)
        summary = m.RunDueSummary()
        summary.expired_requests = self.store.expire_requests(now)
        stale_before = now - timedelta(minutes=self.policy.stale_claim_minutes)
        for installment_id in self.store.due_installment_ids(now, stale_before):
            try:
                self._charge_installment(installment_id, now, stale_before, summary)
            except Exception as exc:  # one bad row must not stop the others
                logger.exception("installment %s: %s", installment_id, exc)
                summary.errors.append(f"installment {installment_id}: {type(exc).__name__}")
        summary.promises_kept, summary.promises_broken = self.store.resolve_due_promises(now)
        summary.links_created = self.retry_checkouts(now)
        summary.notifications_sent, summary.notifications_failed = self.deliver_notifications(now)
        return summary

    def retry_checkouts(self, now: datetime) -> int:
        """Create the payment pages the gateway could not create when asked (same idempotency key), and
        queue each link for the conversation that asked; a request past its expiry is given up."""
        created = 0
        for row in self.store.pending_checkouts():
            if row.expires_at <= now:
                self.store.abandon_request(row.id, now)
                continue
            info = self.store.account(self.payment_request(row.id).account_ref)
            try:
                self._checkout(row.id, info, Money(row.amount_minor, row.currency), row.purpose, row.expires_at,
                               save_method=bool(row.save_method))
            except m.PaymentUnavailable:
                continue  # still unavailable (stays queued), or refused (abandoned)
            self.store.queue_link_ready(row.id, now, self.policy)
            created += 1
        return created

    def _charge_installment(self, installment_id: int, now: datetime, stale_before: datetime,
                            summary: m.RunDueSummary) -> None:
        result = self.store.claim_installment(installment_id, now, stale_before, self.policy, self.gateway.name)
        if result.kind == "paused":
            summary.paused += 1
            if result.reason:
                logger.info("installment %s not charged: %s", installment_id, result.reason)
        elif result.kind == "completed":
            summary.plans_completed += 1
        if result.kind != "charge" or result.claim is None:
            return
        claim = result.claim
        try:
            charge = self.gateway.charge_saved_method(g.OffSessionCharge(
                request_id=claim.request_id, account_ref=claim.account_ref, amount=claim.amount,
                payment_method_ref=claim.payment_method_ref, idempotency_key=claim.idempotency_key,
                customer_ref=claim.customer_ref, description="Payment plan installment"))
        except g.GatewayUnavailable as exc:
            logger.warning("installment %s not charged, gateway unavailable: %s", installment_id, exc)
            self.store.release_claim(claim)
            summary.unavailable += 1
            return
        except g.GatewayError as exc:
            logger.warning("installment %s refused by the gateway: %s", installment_id, exc)
            charge = g.ChargeResult("failed", None, "gateway_error")
        summary.charged += 1
        if charge.status == "processing":
            return  # the webhook settles it
        succeeded = charge.status == "succeeded"
        event = g.GatewayEvent(
            id=f"charge:{claim.request_id}:{charge.status}", type=g.PAYMENT_SUCCEEDED if succeeded else g.PAYMENT_FAILED,
            request_id=claim.request_id, payment_ref=charge.payment_ref,
            amount_minor=claim.amount.minor if succeeded else None, currency=claim.amount.currency,
            failure_code=charge.failure_code)
        self.store.apply_event(event, now, self.policy)
        if succeeded:
            summary.succeeded += 1
            return
        summary.failed += 1
        view = self.payment_request(claim.request_id)
        if view.plan_status == "broken":
            summary.plans_broken += 1
        elif view.next_retry_at is not None:
            summary.retries_scheduled += 1

    def deliver_notifications(self, now: Optional[datetime] = None,
                              ids: Optional[Sequence[int]] = None) -> Tuple[int, int]:
        """Send due notifications from the outbox; failures stay queued with backoff. (sent, failed)."""
        now = now or self._now()
        if ids is not None and not ids:
            return 0, 0
        sent = failed = 0
        for row in self.store.claim_notifications(now, NOTIFICATION_LEASE, ids=ids):
            try:
                self.notifier.notify(row.conversation_id, row.channel, row.event_name, json.loads(row.payload))
            except NotificationFailed as exc:
                logger.warning("notification %s (%s) not delivered: %s", row.id, row.event_name, exc)
                self.store.notification_failed(row.id, now, str(exc), self.policy.notification_max_attempts)
                failed += 1
            else:
                self.store.notification_sent(row.id, now)
                sent += 1
        return sent, failed
