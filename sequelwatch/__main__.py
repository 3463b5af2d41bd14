"""`python -m sequelwatch` runs the command line."""

from sequelwatch.cli import main

if __name__ == "__main__":  # not when a reader process (crawler.reading) imports it again
    main()
