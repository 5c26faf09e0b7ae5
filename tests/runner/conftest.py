"""Re-export the runner tests' shared fixtures (they live in modules the engine tests import too)."""

from tests.runner.impostor import impostor

__all__ = ["impostor"]
