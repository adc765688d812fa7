"""Rasa custom actions, loaded by the action server (`python -m rasa_sdk --actions actions`)."""
from bot import action_server
from bot.log_redaction import install_log_redaction

install_log_redaction()  # the action server's logs lose card numbers, dates and ZIP codes
action_server.register()  # the actions' services are built before the server serves
