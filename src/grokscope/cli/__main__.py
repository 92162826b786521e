"""``python -m grokscope.cli ...``: the same as ``grokscope ...``."""

from grokscope.cli import main

if __name__ == "__main__":
    main()
