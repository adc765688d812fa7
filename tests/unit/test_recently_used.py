"""The caches in front of slower work keep the entries used last and forget the rest."""
from bot.recently_used import RecentlyUsed


def test_the_least_recently_used_entry_is_forgotten_first():
    recent = RecentlyUsed(size=2)
    recent.keep("a", 1)
    recent.keep("b", 2)
    recent.keep("a", recent.take("a"))  # used again: "b" is now the oldest
    recent.keep("c", 3)
    assert (recent.peek("a"), recent.peek("b"), recent.peek("c"), len(recent)) == (1, None, 3, 2)


def test_a_taken_entry_is_gone_until_kept_again_and_a_peek_moves_nothing():
    recent = RecentlyUsed(size=2)
    recent.keep("a", 1)
    assert recent.take("a") == 1 and recent.take("a") is None and len(recent) == 0
    recent.keep("a", 1)
    recent.keep("b", 2)
    recent.peek("a")
    recent.keep("c", 3)
    assert recent.peek("a") is None and recent.peek("b") == 2
