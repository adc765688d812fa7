"""Rasa custom actions, loaded by the action server (`python -m rasa_sdk --actions actions`)."""
from bot.log_redaction import install_log_redaction

install_log_redaction()  # the action server's logs lose card numbers, dates and ZIP codes
