"""The intended architecture of the platform, as data (`architecture.yaml`) with a typed loader."""

from reference.model import DEFAULT_PATH, Architecture, ReferenceError, load_architecture

__all__ = ["DEFAULT_PATH", "Architecture", "ReferenceError", "load_architecture"]
