"""Field mapping: configured rules turn a lead's values into the payload one buyer expects.

Pure Python (no Django, no I/O), called by the auction service for every buyer of a lead and
by the admin's payload preview and test ping.
"""

from apps.buyers.mapping.apply import CONTEXT_KEYS, MappingRule, payload_build, rules_validate
from apps.buyers.mapping.errors import MappingError
from apps.buyers.mapping.paths import MAX_LIST_INDEX, path_format, path_parse, path_split
from apps.buyers.mapping.transforms import TRANSFORMS, transform_apply

__all__ = [
    "CONTEXT_KEYS",
    "MAX_LIST_INDEX",
    "TRANSFORMS",
    "MappingError",
    "MappingRule",
    "path_format",
    "path_parse",
    "path_split",
    "payload_build",
    "rules_validate",
    "transform_apply",
]
