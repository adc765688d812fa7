"""Sanic app factories for the consumer-facing web pages (web chat, health).

Nothing here builds an app at import time: call ``create_backend_app(settings)``.
"""
