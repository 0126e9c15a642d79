"""``python -m hw.modem``: see ``hw.modem.process``."""

import sys

from hw.modem.process import main

sys.exit(main())
