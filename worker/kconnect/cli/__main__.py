import sys

from kconnect.cli import main

sys.exit(main())
