"""``python -m gridmap.cli``: the same as the ``gridmap`` command."""

import sys

from gridmap.cli.main import main

sys.exit(main())
