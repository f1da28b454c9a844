"""`python -m hub.cli`: the same as the `casahub` command."""

from hub.cli.main import main

raise SystemExit(main())
