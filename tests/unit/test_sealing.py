"""apps.core.sealing: the cipher, its key ring and the ring's system check."""

from __future__ import annotations

import base64

import pytest

from apps.core.sealing import PREFIX, SealError, keyring, keyring_check, seal, unseal

GOOD = "k1:" + "x" * 40


@pytest.fixture(autouse=True)
def ring(settings):
    settings.PII_ENCRYPTION_KEYS = [GOOD]
    return settings


def test_a_sealed_text_opens_for_its_purpose_only():
    token = seal("jane@example.com", purpose="lead.fields")
    assert token.startswith(PREFIX + "k1:") and "jane" not in token
    assert unseal(token, purpose="lead.fields") == "jane@example.com"
    with pytest.raises(SealError, match="copied from another column"):
        unseal(token, purpose="post.request_body")


def test_sealing_twice_gives_two_different_tokens():
    assert seal("same", purpose="p") != seal("same", purpose="p")


def test_an_altered_token_does_not_open():
    token = seal("jane@example.com", purpose="p")
    head, payload = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(payload))
    raw[14] ^= 0x01  # one bit of the ciphertext (after the 12-byte nonce)
    flipped = f"{head}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    assert flipped != token
    with pytest.raises(SealError):
        unseal(flipped, purpose="p")


def test_the_first_key_seals_and_every_key_opens(ring):
    old = seal("v", purpose="p")
    ring.PII_ENCRYPTION_KEYS = ["k2:" + "y" * 40, GOOD]
    assert keyring().primary == "k2"
    assert seal("v", purpose="p").startswith(PREFIX + "k2:")
    assert unseal(old, purpose="p") == "v"


@pytest.mark.parametrize(("entries", "message"), [
    ([], "is empty"),
    (["k1"], "entries are id:secret"),
    (["k-1:" + "x" * 40], "entries are id:secret"),
    (["k1:short"], "shorter than 32"),
    ([GOOD, "k1:" + "z" * 40], "listed twice"),
])
def test_a_malformed_ring_fails_the_system_check(ring, entries, message):
    ring.PII_ENCRYPTION_KEYS = entries
    errors = keyring_check()
    assert [e.id for e in errors] == ["leadexchange.E001"]
    assert message in errors[0].msg


def test_a_good_ring_passes_the_system_check():
    assert keyring_check() == []
