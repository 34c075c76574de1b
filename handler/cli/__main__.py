"""``python -m handler.cli``: the same as the ``datasurface`` command."""

from handler.cli import main

main()
