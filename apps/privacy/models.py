"""The record of each consumer erasure request: who asked, when, what it found, never the
e-mail or phone itself (only their keyed digests, apps.core.pii)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ErasureStatus(models.TextChoices):
    PENDING = "pending"  # recorded, its run queued
    RUNNING = "running"
    DONE = "done"


class ErasureRequest(models.Model):
    """A request to erase one consumer, known by the keyed digest of an e-mail, of a phone,
    or both. ``leads_erased`` counts the leads this request scrubbed: a second request for
    the same consumer finds nothing left and records 0."""

    email_digest = models.CharField(max_length=64, blank=True)
    phone_digest = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=8, default="api",
                               help_text="How it was asked: api, admin or command.")
    status = models.CharField(max_length=8, choices=ErasureStatus.choices,
                              default=ErasureStatus.PENDING)
    leads_erased = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # the last sign of life of a run (each batch): a request that is not done and shows none
    # for ``ERASURE_STALE_SECONDS`` lost its run (a killed worker) and is run again
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]


    def __str__(self) -> str:
        return f"erasure {self.pk} ({self.status})"


class RetentionMark(models.Model):
    """How far the retention purge (apps.privacy.retention) has looked in one vertical:
    every lead of it received before ``scanned_before`` had no PII left when the purge last
    passed. The next run starts there, so a run reads only the leads it may still purge, not
    the years of leads it purged before."""

    vertical = models.OneToOneField("sources.Vertical", on_delete=models.CASCADE,
                                    related_name="+")
    scanned_before = models.DateTimeField()

    def __str__(self) -> str:
        return f"retention of {self.vertical_id} scanned before {self.scanned_before:%Y-%m-%d}"
