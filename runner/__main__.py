"""`python -m runner ...` is `dlrun ...`, for an environment whose scripts folder is not on PATH."""

from runner.cli import main

main()
