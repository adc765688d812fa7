"""Adapters to vendors outside the ledger (Twilio); bot.bootstrap builds them once."""
