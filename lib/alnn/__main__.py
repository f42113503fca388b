"""``python -m alnn``: the pipeline's command line (see :mod:`alnn.cli`)."""

import sys

try:
    from alnn.cli import main
except KeyboardInterrupt:  # (an interrupt inside main ends with the command's own line: alnn.cli.main)
    print("alnn: interrupted before it began; nothing was written", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
