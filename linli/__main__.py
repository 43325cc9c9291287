"""`python -m linli` is the `linli` command."""

from linli.cli import main

raise SystemExit(main())
