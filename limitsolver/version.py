"""The library's version (one home: the package, the build metadata and saved files read it)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
