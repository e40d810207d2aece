"""leadexchange's benchmark harness (SPEC §9): ``make bench`` / ``python -m bench [--quick]``.

Modules: ``setup`` (own database, world), ``auctions`` (in-process rows), ``fanout`` (CPU
vs requests + threads), ``load`` + ``loadgen`` (HTTP rows), ``processes`` (children, CPU
from /proc), ``report`` (table and ``bench/results/``), ``run`` (the order of things).
``fanout_cost`` is a standalone measurement of the HTTP primitive alone.
"""
