"""Root conftest: the conformance plugin (options, targets, reports) and the step vocabularies.

The plugin itself is loaded with `-p conformance.pytest_plugin` from pyproject.toml, so that its command-line options
exist before any conftest is read.
"""

pytest_plugins = ["steps.infrastructure"]
