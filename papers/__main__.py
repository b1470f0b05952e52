"""``python -m papers [--quick] [--out DIR]``: build the paper (see `papers.build`)."""

import sys

from papers.build import main

sys.exit(main())
