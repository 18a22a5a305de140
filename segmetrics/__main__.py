"""``python -m segmetrics``: the same as the ``segmetrics`` console command."""

import sys

from segmetrics.cli import main

if __name__ == "__main__":
    sys.exit(main())
