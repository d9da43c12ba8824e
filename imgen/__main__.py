"""``python -m imgen``: the command line of :mod:`imgen.cli`."""

from imgen.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
