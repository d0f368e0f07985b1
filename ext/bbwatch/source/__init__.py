"""Stage 1 of the pipeline: where data comes from, and the only network to Buildbot.

Owns Buildbot URLs (``urls``: the ``master_urls`` rule, ``parse_url``, the links we print),
the HTTP client (``http``, ``client``: ``ApiClient``, one resource or build at a time),
the incremental fetch of the whole fleet (``sync``: ``BuildbotClient.fetch_fleet``, packs and
epochs), API JSON to models (``convert``, the one converter), ``find_builds``' query
(``query``), log text within a cap (``logtext``), recorded snapshots (``snapshot``), choosing
between them (``open``: ``open_client``), the one codec (``codec``: msgspec, bytes to and from
the dataclasses), the one on-disk store (``store``: a SQLite file per cache directory) and the
parsed logs kept in it (``parsecache``); ``atomic`` writes the files people read (snapshots).

Returns the plain dataclasses of ``bbwatch.models``. Imports only ``bbwatch.models``,
``bbwatch.domain``, ``bbwatch.errors`` and ``bbwatch.logs``; never ``bbwatch.triage``,
``bbwatch.sphinxext`` or ``bbwatch.commands``.
"""
