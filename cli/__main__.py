"""`python -m cli`: the same entry point as `vextrus-console`."""

import sys

from cli.main import main

sys.exit(main())
