"""Onboarding a buyer from its own documents: paste its sample ping and post requests (JSON,
XML, form or query string) and sample answers; drafting turns them into a contract — mapping
rows matched to the vertical's fields and transforms, response rules, secrets, the test
flag — and lists what it could not match. Templates of common ping-post formats are canned
samples drafted the same way.

Pure Python over the samples and the vertical's field specs: nothing is read or saved here.
"""

from apps.buyers.drafting.draft import (
    DRAFT_NAME,
    Draft,
    DraftInvalid,
    EndpointSamples,
    Unmatched,
    contract_draft_build,
)
from apps.buyers.drafting.matching import FieldSpec
from apps.buyers.drafting.samples import MAX_SAMPLE, SAMPLE_FORMATS
from apps.buyers.drafting.templates import (
    PLACEHOLDER_KEY,
    TEMPLATES,
    ContractTemplate,
    template_samples,
)

__all__ = [
    "DRAFT_NAME",
    "MAX_SAMPLE",
    "PLACEHOLDER_KEY",
    "SAMPLE_FORMATS",
    "TEMPLATES",
    "ContractTemplate",
    "Draft",
    "DraftInvalid",
    "EndpointSamples",
    "FieldSpec",
    "Unmatched",
    "contract_draft_build",
    "template_samples",
]
