"""OpenAPI descriptions of our authentication schemes (drf-spectacular extensions).

Imported by ``CoreConfig.ready`` so the schema generator knows them."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SourceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.sources.authentication.SourceKeyAuthentication"
    name = "sourceKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A source API key: `Authorization: Bearer lx_…`."}


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A staff token from `manage.py create_staff_token`: "
                               "`Authorization: Bearer lxs_…`."}
