"""`python -m sequelwatch` runs the command line."""

from sequelwatch.cli import main

main()
