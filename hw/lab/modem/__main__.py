"""``python -m hw.lab.modem``: see ``hw.lab.modem.process``."""

import sys

from hw.lab.modem.process import main

sys.exit(main())
