"""Collect every scenario of every feature file; step definitions come from the plugins named in conftest.py."""

from pytest_bdd import scenarios

scenarios("../features")
