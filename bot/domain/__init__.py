"""Plain-Python domain: money, accounts and the rules around them. Standard library only."""
