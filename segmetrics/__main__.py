"""``python -m segmetrics``: the same as the ``segmetrics`` console command."""

import sys

from segmetrics.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
