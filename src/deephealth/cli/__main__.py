"""`python -m deephealth.cli` runs the `deephealth` command."""

import sys

from deephealth.cli import main

sys.exit(main())
