"""Identity resolution: one person, one customer_id.

- :mod:`~bullseye.identity.matching`: probabilistic matching with Splink.
- :mod:`~bullseye.identity.graph`: clustering of records over accepted edges, with
  conflict guards (never two ID cards in one person, cannot-link overrides).
- :mod:`~bullseye.identity.ids`: stable customer_ids and the merge/split journal.
- :mod:`~bullseye.identity.resolver`: one night, full or incremental.
- :mod:`~bullseye.identity.explain` and :mod:`~bullseye.identity.drift`: audit.
"""
