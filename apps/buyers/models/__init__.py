from apps.buyers.models.buyers import (
    Buyer,
    BuyerStatus,
    Contract,
    ContractMode,
    ContractStatus,
)
from apps.buyers.models.rules import (
    AuthType,
    BodyFormat,
    CapCounter,
    CapMetric,
    CapPeriod,
    ContractCap,
    ContractFilter,
    Endpoint,
    EndpointKind,
    FieldMapping,
    FilterOperator,
    KeyStyle,
    ResponseFormat,
    ScheduleWindow,
)

__all__ = [
    "AuthType", "BodyFormat", "Buyer", "BuyerStatus", "CapCounter", "CapMetric", "CapPeriod",
    "Contract", "ContractCap", "ContractFilter", "ContractMode", "ContractStatus", "Endpoint",
    "EndpointKind", "FieldMapping", "FilterOperator", "KeyStyle", "ResponseFormat",
    "ScheduleWindow",
]
