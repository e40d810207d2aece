from apps.buyers.models.buyers import (
    Buyer,
    BuyerStatus,
    Contract,
    ContractMode,
    ContractStatus,
    TestFlag,
)
from apps.buyers.models.rules import (
    AuthType,
    BodyFormat,
    CapCounter,
    CapMetric,
    CapPeriod,
    ConstantType,
    ContractCap,
    ContractFilter,
    ContractSecret,
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
    "ConstantType", "Contract", "ContractCap", "ContractFilter", "ContractMode",
    "ContractSecret", "ContractStatus", "Endpoint",
    "EndpointKind", "FieldMapping", "FilterOperator", "KeyStyle", "ResponseFormat",
    "ScheduleWindow", "TestFlag",
]
