"""The package's version, read once from its installed metadata.

A leaf module: the provenance of every output and the command line's ``--version``
read it without importing the rest of the package.
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("station-sim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
