"""`python -m bot`: see bot.cli."""

import sys

from bot.cli import main

if __name__ == "__main__":  # engine workers import this module again under another name
    sys.exit(main())
