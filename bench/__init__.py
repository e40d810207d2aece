"""leadexchange's benchmark harness (SPEC §9): ``make bench`` / ``python -m bench [--quick]``.

Modules: ``plan`` (how much a run does), ``setup`` (own database, Redis, buyers, source),
``auctions`` (in-process rows 1–4), ``fanout`` (row 8: CPU vs requests + threads),
``phases`` (where row 2's overhead goes), ``cost`` (CPU per lead by phase), ``instructions``
(instructions per lead, under valgrind's callgrind), ``load`` + ``loadgen`` (HTTP rows 5–7),
``processes`` (children, CPU from /proc), ``simlog`` (the simulator's answer log),
``redisdb`` (the bench's Redis databases), ``consumers`` (distinct leads), ``stats``,
``report`` (table and ``bench/results/``), ``run`` (the order of things).
``fanout_cost`` (the HTTP primitive alone) and ``reports`` (the dashboards) are standalone.
"""
