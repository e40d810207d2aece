"""Field mapping: configured rules turn a lead's values into the payload one buyer expects.

Pure Python (no Django, no I/O), called by the auction service for every buyer of a lead and
by the admin's payload preview and test ping.
"""

from apps.buyers.mapping import derived  # noqa: F401 - registers the derived transforms
from apps.buyers.mapping.apply import (
    CONSTANT_TYPES,
    CONTEXT_KEYS,
    SECRET_NAME,
    SECRET_PREFIX,
    EmptyRow,
    MappingRule,
    payload_build,
    payload_trace,
    rules_validate,
)
from apps.buyers.mapping.errors import MappingError
from apps.buyers.mapping.paths import MAX_LIST_INDEX, path_format, path_parse, path_split
from apps.buyers.mapping.transforms import (
    TRANSFORMS,
    transform_apply,
    transform_get,
    transforms_deriving_non_pii,
    transforms_keeping_value,
)

__all__ = [
    "CONSTANT_TYPES",
    "CONTEXT_KEYS",
    "MAX_LIST_INDEX",
    "SECRET_NAME",
    "SECRET_PREFIX",
    "TRANSFORMS",
    "EmptyRow",
    "MappingError",
    "MappingRule",
    "path_format",
    "path_parse",
    "path_split",
    "payload_build",
    "payload_trace",
    "rules_validate",
    "transform_apply",
    "transform_get",
    "transforms_deriving_non_pii",
    "transforms_keeping_value",
]
