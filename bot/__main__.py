"""`python -m bot ...`: the operator's command line."""
from bot.cli import main

raise SystemExit(main())
