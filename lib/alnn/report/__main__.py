"""``python -m alnn.report``: see :func:`alnn.report.latex.main`."""

import sys

from alnn.report.latex import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
