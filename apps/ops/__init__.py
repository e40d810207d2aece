"""What operators watch: ``/healthz`` (liveness), ``/readyz`` (readiness: ``readiness``) and
Prometheus ``/metrics`` (``exposition``, with the state read at scrape time in
``collector``). It sits right of every domain app: it reads their state, none reads it."""
