"""`python -m sim` runs the command-line interface."""

from sim.commands.cli import main

raise SystemExit(main())
