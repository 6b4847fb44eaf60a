"""`python -m rds_emulator.nvme_fabric --fabric-dir DIR <nvme arguments>`."""

import sys

from .cli import main

sys.exit(main())
