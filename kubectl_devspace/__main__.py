"""Entry point for ``python -m kubectl_devspace``."""

from .cli import main

main()
