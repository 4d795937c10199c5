"""station-sim: discrete-event simulation of social intake at police and gendarmerie stations."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("station-sim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
