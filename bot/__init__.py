"""Self-service debt-resolution assistant: the domain, the ledger and the services around Rasa."""
