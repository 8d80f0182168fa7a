"""``python -m dlbasics ...`` is the ``dlb`` command."""

from .cli.main import main

main()
