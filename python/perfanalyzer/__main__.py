import sys

from perfanalyzer.cli import main

sys.exit(main())
