"""One-click starting points: sample requests and answers in the shape of common ping-post
platforms' published formats, drafted like any buyer's samples.

These are "-style" approximations written from the public shapes of those formats (their
field names, success words, price and token keys, how a test is flagged), not copies of any
vendor's specification: every buyer configures its own instance, so staff compare the draft
with the buyer's actual document, put in its URLs and credentials (the placeholders below),
and run a test round trip before switching it live. The vertical's own fields that a
template does not name are simply not mapped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from apps.buyers.drafting.draft import EndpointSamples

PLACEHOLDER_KEY = "REPLACE-WITH-BUYER-KEY"


@dataclass(frozen=True)
class ContractTemplate:
    slug: str
    label: str
    description: str
    ping: EndpointSamples
    post: EndpointSamples


def _form(*pairs: str) -> str:
    return "&".join(pairs)


_PERSON_FORM = ("First_Name=John", "Last_Name=Doe", "Email=john.doe@example.com",
                "Primary_Phone=5551234567", "Address=12 Main St", "City=Albany", "State=NY",
                "Zip=12207", "IP_Address=203.0.113.7")

TEMPLATES: dict[str, ContractTemplate] = {t.slug: t for t in (
    ContractTemplate(
        "boberdoo", "boberdoo-style ping/post",
        "Form posts to one lead-intake URL told apart by Mode=ping / Mode=full, an API key "
        "and lead type id in every request, Test_Lead=1 for tests; XML answers with "
        "<status>Matched</status>, the <price> and a <lead_id> the full post sends back.",
        ping=EndpointSamples(
            url="https://buyer.example.com/genericPostlead.php", body_format="form",
            request=_form(f"Key={PLACEHOLDER_KEY}", "API_Action=pingPostLead", "Mode=ping",
                          "TYPE=21", "SRC=leadexchange", "Sub_ID=aff-1", "Test_Lead=1",
                          "Zip=12207", "State=NY"),
            answer="<response><status>Matched</status><lead_id>8812345</lead_id>"
                   "<price>10.00</price></response>",
            refusal="<response><status>Unmatched</status><error>No matching buyer"
                    "</error></response>"),
        post=EndpointSamples(
            url="https://buyer.example.com/genericPostlead.php", body_format="form",
            request=_form(f"Key={PLACEHOLDER_KEY}", "API_Action=pingPostLead", "Mode=full",
                          "TYPE=21", "SRC=leadexchange", "Sub_ID=aff-1", "Test_Lead=1",
                          "Lead_ID=8812345", *_PERSON_FORM),
            answer="<response><status>Matched</status><lead_id>8812345</lead_id>"
                   "<price>10.00</price></response>",
            refusal="<response><status>Unmatched</status><error>Duplicate lead</error>"
                    "</response>")),
    ContractTemplate(
        "leadspedia", "LeadsPedia-style ping/post",
        "Form posts to ping.do / post.do with lp_campaign_id and lp_campaign_key, lp_test=1 "
        "for tests; JSON answers {\"result\": \"success\", \"price\", \"ping_id\", \"msg\"}, "
        "the post carrying lp_ping_id.",
        ping=EndpointSamples(
            url="https://buyer.example.com/ping.do", body_format="form",
            request=_form("lp_campaign_id=5f1a2b3c4d", f"lp_campaign_key={PLACEHOLDER_KEY}",
                          "lp_s1=aff-1", "lp_test=1", "zip_code=12207", "state=NY"),
            answer='{"result": "success", "msg": "", "price": 7.50, "ping_id": "a1b2c3d4"}',
            refusal='{"result": "failed", "msg": "No buyer found"}'),
        post=EndpointSamples(
            url="https://buyer.example.com/post.do", body_format="form",
            request=_form("lp_campaign_id=5f1a2b3c4d", f"lp_campaign_key={PLACEHOLDER_KEY}",
                          "lp_ping_id=a1b2c3d4", "lp_s1=aff-1", "lp_test=1",
                          "first_name=John", "last_name=Doe",
                          "email_address=john.doe@example.com", "phone_home=5551234567",
                          "address=12 Main St", "city=Albany", "state=NY", "zip_code=12207",
                          "date_of_birth=04/12/1985", "ip_address=203.0.113.7"),
            answer='{"result": "success", "lead_id": "LP-77", "msg": "Lead Accepted"}',
            refusal='{"result": "failed", "msg": "Duplicate"}')),
    ContractTemplate(
        "leadexec", "LeadExec-style ping/post",
        "Form posts with the vendor and lead-type ids (VID, LID, AID) and a key; XML answers "
        "<Response><Result>Accepted</Result> with the <Price> and a <PingToken> the post "
        "sends back, <Message> on refusal.",
        ping=EndpointSamples(
            url="https://buyer.example.com/ping.aspx", body_format="form",
            request=_form("VID=1234", "LID=567", "AID=89", f"Key={PLACEHOLDER_KEY}",
                          "IsTest=true", "ZipCode=12207", "State=NY", "DOB_Year=1985"),
            answer="<Response><Result>Accepted</Result><Price>12.00</Price>"
                   "<PingToken>8f3a9c</PingToken><Message></Message></Response>",
            refusal="<Response><Result>Rejected</Result><Message>Filtered</Message>"
                    "</Response>"),
        post=EndpointSamples(
            url="https://buyer.example.com/post.aspx", body_format="form",
            request=_form("VID=1234", "LID=567", "AID=89", f"Key={PLACEHOLDER_KEY}",
                          "IsTest=true", "PingToken=8f3a9c", "FirstName=John",
                          "LastName=Doe", "Email=john.doe@example.com", "Phone=555-123-4567",
                          "Address=12 Main St", "City=Albany", "State=NY", "ZipCode=12207",
                          "DateOfBirth=1985-04-12", "IPAddress=203.0.113.7"),
            answer="<Response><Result>Accepted</Result><LeadId>991</LeadId>"
                   "<Message></Message></Response>",
            refusal="<Response><Result>Rejected</Result><Message>Duplicate</Message>"
                    "</Response>")),
    ContractTemplate(
        "px", "PX-style ping/post",
        "JSON with an ApiToken, TestMode for tests and the lead in nested objects "
        "(ContactData, Person); JSON answers with Success, the Payout and a PingToken the "
        "post sends back, Message on refusal.",
        ping=EndpointSamples(
            url="https://buyer.example.com/api/ping", body_format="json",
            request='{"ApiToken": "' + PLACEHOLDER_KEY + '", "Vertical": "AutoInsurance", '
                    '"SubId": "aff-1", "TestMode": true, '
                    '"ContactData": {"ZipCode": "12207", "State": "NY"}, '
                    '"Person": {"BirthYear": 1985}}',
            answer='{"Success": true, "Payout": 12.50, "PingToken": "px-5d2e", '
                   '"Message": ""}',
            refusal='{"Success": false, "Message": "No coverage"}'),
        post=EndpointSamples(
            url="https://buyer.example.com/api/post", body_format="json",
            request='{"ApiToken": "' + PLACEHOLDER_KEY + '", "Vertical": "AutoInsurance", '
                    '"SubId": "aff-1", "TestMode": true, "PingToken": "px-5d2e", '
                    '"ContactData": {"FirstName": "John", "LastName": "Doe", '
                    '"EmailAddress": "john.doe@example.com", "PhoneNumber": "5551234567", '
                    '"Address": "12 Main St", "City": "Albany", "State": "NY", '
                    '"ZipCode": "12207", "IpAddress": "203.0.113.7"}, '
                    '"Person": {"BirthDate": "1985-04-12"}}',
            answer='{"Success": true, "LeadId": "px-991", "Message": "Accepted"}',
            refusal='{"Success": false, "Message": "Duplicate"}')),
    ContractTemplate(
        "leadprosper", "Lead Prosper-style ping/post",
        "JSON with lp_campaign_id, lp_supplier_id and lp_key, lp_action=test for tests; "
        "JSON answers {\"status\": \"ACCEPTED\", \"price\", \"ping_id\", \"message\"}, the "
        "post carrying lp_ping_id.",
        ping=EndpointSamples(
            url="https://buyer.example.com/ping", body_format="json",
            request='{"lp_campaign_id": "12345", "lp_supplier_id": "678", '
                    '"lp_key": "' + PLACEHOLDER_KEY + '", "lp_action": "test", '
                    '"lp_subid1": "aff-1", "zip_code": "12207", "state": "NY"}',
            answer='{"status": "ACCEPTED", "code": 0, "message": "", "ping_id": "lp-42", '
                   '"price": 10.50}',
            refusal='{"status": "ERROR", "code": 1003, "message": "Duplicated lead"}'),
        post=EndpointSamples(
            url="https://buyer.example.com/post", body_format="json",
            request='{"lp_campaign_id": "12345", "lp_supplier_id": "678", '
                    '"lp_key": "' + PLACEHOLDER_KEY + '", "lp_action": "test", '
                    '"lp_ping_id": "lp-42", "lp_subid1": "aff-1", "first_name": "John", '
                    '"last_name": "Doe", "email": "john.doe@example.com", '
                    '"phone": "5551234567", "address": "12 Main St", "city": "Albany", '
                    '"state": "NY", "zip_code": "12207", "date_of_birth": "1985-04-12", '
                    '"ip_address": "203.0.113.7"}',
            answer='{"status": "ACCEPTED", "code": 0, "message": "", "lead_id": "lp-991"}',
            refusal='{"status": "ERROR", "code": 1005, "message": "Duplicated lead"}')),
)}


def template_samples(slug: str, *, ping: EndpointSamples | None = None,
                     post: EndpointSamples | None = None
                     ) -> tuple[EndpointSamples, EndpointSamples]:
    """The template's ping and post samples, with whatever staff gave instead (a non-empty
    ``url``, ``request`` … of ``ping``/``post``) in their place. Raises ``KeyError`` for an
    unknown ``slug``."""
    template = TEMPLATES[slug]

    def merged(base: EndpointSamples, given: EndpointSamples | None) -> EndpointSamples:
        if given is None:
            return base
        return replace(base, **{name: value for name, value in asdict(given).items()
                                if value})

    return merged(template.ping, ping), merged(template.post, post)
