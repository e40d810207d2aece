"""Output shapes of the source-facing lead API (the input shape lives in apps.leads.intake)."""

from __future__ import annotations

from rest_framework import serializers

from apps.leads.models import Lead, LeadStatus
from apps.sources.models import Vertical


class LeadOutputSerializer(serializers.ModelSerializer):
    """What a source may know of its lead: never the buyer, the sale price or the margin."""

    id = serializers.UUIDField(source="uuid")
    vertical: serializers.SlugRelatedField[Vertical] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True,
        help_text="Null for a lead rejected for an unknown vertical.")
    test = serializers.BooleanField(source="is_test")
    duplicate_of = serializers.UUIDField(source="duplicate_of.uuid", default=None,
                                         allow_null=True,
                                         help_text="The earlier lead, for a duplicate.")
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id", "status", "vertical", "sub_id", "sub_ids", "test", "payout", "message",
            "errors", "duplicate_of", "fields", "enrichment", "consent", "received_at",
            "completed_at", "status_url",
        ]

    def get_status_url(self, lead: Lead) -> str:
        request = self.context.get("request")
        path = lead.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


def _ignored_fields() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(), help_text=(
            "Every key of the submission the platform did not use, so a misspelt key shows: "
            "unknown top-level keys (`campaign`), keys the vertical's spec does not have "
            "(`fields.favourite_colour`; a form-encoded submission names them as sent: "
            "`favourite_colour`) and unknown `consent` keys. Empty when every key was used."))


class CaptureAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=LeadStatus.choices)
    status_url = serializers.URLField()
    ignored_fields = _ignored_fields()


class CaptureOutcomeSerializer(serializers.Serializer):
    """A sync submission's outcome: never the buyer or its price, only what the source earns."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["sold", "unsold"])
    payout = serializers.DecimalField(max_digits=10, decimal_places=2)
    message = serializers.CharField()
    ignored_fields = _ignored_fields()


class DuplicateSerializer(serializers.Serializer):
    status = serializers.CharField(default="duplicate")
    duplicate_of = serializers.UUIDField()
    id = serializers.UUIDField()
    detail = serializers.CharField()
    ignored_fields = _ignored_fields()


class SuppressedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["suppressed"])
    id = serializers.UUIDField()
    detail = serializers.CharField()
    ignored_fields = _ignored_fields()


class ErrorsSerializer(serializers.Serializer):
    # The key is `errors`: DRF's metaclass takes declared fields off the class, so this does
    # not replace the Serializer.errors property; the stubs do not model that.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()))


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
