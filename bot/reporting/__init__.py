"""Reporting for operators and creditors: KPIs queried from the ledger (bot.reporting.kpis)."""
