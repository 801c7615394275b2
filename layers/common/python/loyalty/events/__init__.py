"""The event log's one schema, shared by intake and every stream consumer:
``models`` (what a storefront may send), ``stored`` (an event as the log holds
it, and the only builder of its item), ``records`` (typed stream records)."""
