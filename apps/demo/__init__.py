"""The tools that exercise the product, kept apart from it: the demo dataset and its traffic
(``make run``), the bundled buyer simulator, and the synthetic history for the dashboards and
the reports benchmark.

This app sits at the right end of the import order (``core ← sources ← buyers ← leads ←
auctions ← reports ← demo``): it may use every domain app, and no domain app imports it.
"""
