"""``python -m minidnn``: the command line (see :mod:`minidnn.cli`)."""

from minidnn.cli import main

raise SystemExit(main())
