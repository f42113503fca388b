"""``python -m alnn``: the pipeline's command line (see :mod:`alnn.cli`)."""

import sys

from alnn.cli import main

sys.exit(main())
