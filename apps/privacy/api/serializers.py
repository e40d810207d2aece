"""Shapes of the staff privacy API. No answer repeats an e-mail, a phone or a digest."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.api import StrictTypesMixin
from apps.privacy.models import ErasureRequest, ErasureStatus


class ConsumerInputSerializer(StrictTypesMixin, serializers.Serializer):
    """One consumer: an e-mail, a phone, or both (at least one)."""

    email = serializers.CharField(required=False, allow_blank=True, max_length=254,
                                  help_text="The consumer's e-mail address.")
    phone = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                  help_text="The consumer's phone: a US number, or + and the "
                                            "country code.")


class ErasureSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=ErasureStatus.choices)
    by_email = serializers.SerializerMethodField()
    by_phone = serializers.SerializerMethodField()
    requested_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ErasureRequest
        fields = ["id", "status", "by_email", "by_phone", "leads_erased", "channel",
                  "requested_by", "requested_at", "finished_at"]

    def get_by_email(self, row: ErasureRequest) -> bool:
        return bool(row.email_digest)

    def get_by_phone(self, row: ErasureRequest) -> bool:
        return bool(row.phone_digest)


class SuppressionAddedSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="Digests newly suppressed (0: already were).")
