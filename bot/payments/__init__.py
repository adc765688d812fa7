"""Payments: the gateway port and its adapters (Stripe, local sandbox), the payments service that
turns conversations into payment requests, plans and promises, and the consumer notifier."""
