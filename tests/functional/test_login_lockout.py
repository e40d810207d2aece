"""The staff login is protected against brute force (SPEC §7): repeated failures lock it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_five_wrong_passwords_lock_the_admin_login_even_for_the_right_one(client, settings):
    settings.AXES_ENABLED = True
    get_user_model().objects.create_superuser("boss", "boss@example.com", "right-password")

    answers = [client.post("/admin/login/", {"username": "boss", "password": "wrong"})
               .status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    locked = client.post("/admin/login/", {"username": "boss", "password": "right-password"})

    assert answers[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form, with an error
    assert answers[-1] == 429 and locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_right_password_logs_in_before_the_limit(client, settings):
    settings.AXES_ENABLED = True
    get_user_model().objects.create_superuser("boss", "boss@example.com", "right-password")
    client.post("/admin/login/", {"username": "boss", "password": "wrong"})

    ok = client.post("/admin/login/", {"username": "boss", "password": "right-password",
                                       "next": "/admin/"})

    assert ok.status_code == 302 and "_auth_user_id" in client.session
