"""sequelwatch: the command line and the daemon that wire the stages together."""

from config import __version__

__all__ = ["__version__"]
