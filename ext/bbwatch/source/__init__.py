"""Stage 1 of the pipeline: where data comes from, and the only network to Buildbot.

Owns Buildbot URLs (``urls``: the ``master_urls`` rule, ``parse_url``, the links we print),
the HTTP client (``http``, ``client``: ``ApiClient``, one resource or build at a time),
the incremental fetch of the whole fleet (``sync``: ``BuildbotClient.fetch_fleet``, packs and
epochs), API JSON to models (``convert``), log text within a cap (``logtext``), recorded
snapshots (``snapshot``), choosing between them (``open``: ``open_client``) and the on-disk
stores (``cache``, ``parsecache``, ``atomic``, ``serialize``).

Returns the plain dataclasses of ``bbwatch.models``. Imports only ``bbwatch.models``,
``bbwatch.domain``, ``bbwatch.errors`` and ``bbwatch.logs``; never ``bbwatch.triage``,
``bbwatch.sphinxext`` or ``bbwatch.commands``.
"""
