"""``python -m vmm``."""

from vmm.cli import main

main()
