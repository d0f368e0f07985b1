"""(Not implemented yet: owned by its issue.)"""

from sphinx.application import Sphinx


def setup_live(app: Sphinx) -> None:
    return None
