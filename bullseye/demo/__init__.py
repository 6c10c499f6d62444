"""Demo landing zone generator (see :func:`bullseye.demo.generator.generate`)."""

from bullseye.demo.generator import DEMO_END, generate

__all__ = ["DEMO_END", "generate"]
