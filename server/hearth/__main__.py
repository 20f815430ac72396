"""`python -m hearth` is the `hearth` command."""

from hearth.entry import main

raise SystemExit(main())
