"""The command line: `casahub` verbs, its HTTP client for a running hub, the installer's pairing commands, `doctor`."""
