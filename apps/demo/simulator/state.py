"""In-memory state shared by all simulated buyers of one server: generators and tokens."""

from __future__ import annotations

import itertools
import random

# Both maps are bounded so a long benchmark or a client inventing paths cannot grow the
# server without limit; the oldest entries go first.
MAX_GENERATORS = 10_000
MAX_TOKENS = 250_000


class TokenRegistry:
    """Issues unique ping tokens and remembers the most recent ``capacity`` of them."""

    def __init__(self, capacity: int = MAX_TOKENS) -> None:
        self._capacity = capacity
        self._tokens: dict[str, None] = {}  # a dict keeps insertion order: oldest first
        self._sequence = itertools.count(1)

    def issue(self, rng: random.Random) -> str:
        """Return a fresh token, unique for this registry's lifetime, and remember it."""
        # The sequence number makes it unique; the random part makes it unguessable enough
        # that a platform cannot pass a test by inventing tokens.
        token = f"t-{next(self._sequence)}-{rng.getrandbits(40):010x}"
        self._tokens[token] = None
        if len(self._tokens) > self._capacity:
            del self._tokens[next(iter(self._tokens))]
        return token

    def __contains__(self, token: object) -> bool:
        return token in self._tokens


class SimulatorState:
    """Random generators per simulated buyer, issued tokens and buyer lead ids."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.tokens = TokenRegistry()
        self._generators: dict[tuple[str, str], random.Random] = {}
        self._lead_ids = itertools.count(1)

    def rng_for(self, path: str, seed: str) -> random.Random:
        """Return the generator of the buyer at ``path`` with the ``seed`` query parameter.

        Each (path, seed) pair has its own stream seeded from the server seed, so the
        answers one buyer gets are reproducible whatever the other buyers receive.
        """
        key = (path, seed)
        rng = self._generators.get(key)
        if rng is None:
            if len(self._generators) >= MAX_GENERATORS:
                del self._generators[next(iter(self._generators))]
            rng = random.Random(f"{self.seed}|{path}|{seed}")
            self._generators[key] = rng
        return rng

    def next_lead_id(self) -> str:
        """Return a new buyer-side lead id for an accepted post."""
        return f"L-{next(self._lead_ids)}"
