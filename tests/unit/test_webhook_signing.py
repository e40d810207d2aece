"""Standard Webhooks signing (``apps.webhooks.signing``) against the spec's published example
and an independent implementation, and the postback template's check and rendering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from standardwebhooks.webhooks import Webhook

from apps.sources.postback import postback_template_check, postback_url_render
from apps.webhooks.signing import secret_generate, secret_key, signature, signed_headers

P = pytest.param
# The example of the Standard Webhooks reference implementations' test suites.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_of_the_spec_example():
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_the_signature_equals_the_reference_package():
    secret = secret_generate()
    body = '{"type":"lead.sold","data":{"sub_id":"é ✓"}}'.encode()
    expected = Webhook(secret).sign(SPEC_ID, datetime.fromtimestamp(SPEC_TS, UTC), body)

    assert signature(secret, SPEC_ID, SPEC_TS, body) == expected


def test_a_new_secret_is_whsec_and_32_random_bytes():
    first, second = secret_generate(), secret_generate()
    assert first.startswith("whsec_") and len(secret_key(first)) == 32
    assert first != second


def test_every_live_secret_signs():
    old, new = secret_generate(), secret_generate()
    headers = signed_headers([new, old], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert headers["webhook-id"] == SPEC_ID and headers["webhook-timestamp"] == str(SPEC_TS)
    assert headers["webhook-signature"].split(" ") == [
        signature(new, SPEC_ID, SPEC_TS, SPEC_BODY), signature(old, SPEC_ID, SPEC_TS, SPEC_BODY)]


def test_a_secret_that_is_not_whsec_is_refused():
    with pytest.raises(ValueError, match="whsec_"):
        secret_key("not-a-secret")


@pytest.mark.parametrize("template", [
    P("", id="blank-no-postback"),
    P("https://t.example.com/pb?click={sub_id}&amount={payout}", id="two-macros"),
    P("https://t.example.com/pb/{lead_id}?s={sub_id2}&s3={sub_id3}&s4={sub_id4}&s5={sub_id5}"
      "&st={status}&v={vertical}&e={event}", id="every-macro"),
    P("https://t.example.com/pb", id="no-macro"),
    P("http://127.0.0.1/pb?c={sub_id}", id="allowed-network"),  # the tests allow 127.0.0.1
])
def test_a_valid_template_passes(template, settings):
    settings.HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    postback_template_check(template)


@pytest.mark.parametrize(("template", "message"), [
    P("https://t.example.com/pb?c={clickid}", "Unknown macro {clickid}.", id="unknown"),
    P("https://t.example.com/pb?c={}", "Unknown macro {}.", id="empty-macro"),
    P("https://t.example.com/pb?c={Sub_Id}", "Unknown macro {Sub_Id}.", id="case-matters"),
    P("https://t.example.com/pb?c={sub_id", "A brace opens or closes no macro.",
      id="unclosed"),
    P("https://t.example.com/pb?c=sub_id}", "A brace opens or closes no macro.",
      id="stray-close"),
    P("ftp://t.example.com/pb?c={sub_id}", "This address is refused: scheme 'ftp'",
      id="scheme"),
    P("http://10.1.2.3/pb?c={sub_id}", "This address is refused: 10.1.2.3 is a private",
      id="private-address"),
    P("http://169.254.169.254/latest?c={sub_id}", "This address is refused: 169.254.169.254 "
      "is a cloud metadata address", id="metadata"),
])
def test_a_bad_template_is_refused_naming_the_problem(template, message):
    with pytest.raises(ValidationError) as refused:
        postback_template_check(template)
    assert refused.value.messages[0].startswith(message)


def test_values_are_url_encoded_and_never_add_a_parameter():
    url = postback_url_render("https://t.example.com/pb?c={sub_id}&p={payout}&x={sub_id2}",
                              {"sub_id": "a&b=c d/é", "payout": "-6.00"})
    assert url == "https://t.example.com/pb?c=a%26b%3Dc%20d%2F%C3%A9&p=-6.00&x="
