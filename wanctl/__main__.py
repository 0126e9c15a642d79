import sys

from wanctl.cli import main

sys.exit(main())
