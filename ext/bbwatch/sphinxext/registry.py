"""(Not implemented yet: owned by its issue.)"""

from sphinx.application import Sphinx


def setup_registry(app: Sphinx) -> None:
    return None
