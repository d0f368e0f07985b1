"""(Not implemented yet: owned by its issue.)"""

from sphinx.application import Sphinx


def setup_checklists(app: Sphinx) -> None:
    return None
