"""bullseye: the nightly database-marketing pipeline."""

__version__ = "0.1.0"
