"""How a contract is configured to talk to the simulator, per answer format: the response
rules that read its answers (configuration only, like any real buyer) and the request body
format to send. Used by the demo data, the tests and the benchmark."""

# A contract endpoint's response rules, named as the model names them.
ResponseRules = dict[str, str | list[str]]

PING_RULES: dict[str, ResponseRules] = {
    "json": {"response_format": "json", "success_path": "status", "success_values": ["bid"],
             "price_path": "price", "token_path": "token"},
    "xml": {"response_format": "xml", "success_path": "/response/status",
            "success_values": ["bid"], "price_path": "/response/price",
            "token_path": "/response/token"},
    "xml_attr": {"response_format": "xml", "success_path": "/response/@status",
                 "success_values": ["bid"], "price_path": "/response/@price",
                 "token_path": "/response/@token"},
    "form": {"response_format": "form", "success_path": "status", "success_values": ["bid"],
             "price_path": "price", "token_path": "token"},
    "text": {"response_format": "text", "success_regex": r"^BID ",
             "price_path": r"^BID (\d+\.\d+)", "token_path": r"^BID \S+ (\S+)"},
}
POST_RULES: dict[str, ResponseRules] = {
    "json": {"response_format": "json", "success_path": "result",
             "success_values": ["accepted"], "reason_path": "reason"},
    "xml": {"response_format": "xml", "success_path": "/response/result",
            "success_values": ["accepted"], "reason_path": "/response/reason"},
    "form": {"response_format": "form", "success_path": "result",
             "success_values": ["accepted"], "reason_path": "reason"},
    "text": {"response_format": "text", "success_regex": "^ACCEPTED",
             "reason_path": "^REJECTED (.*)"},
}

# The request body we send for each answer format (a text-answering buyer takes a form).
REQUEST_FORMAT = {"json": "json", "xml": "xml", "xml_attr": "xml", "form": "form",
                  "text": "form"}
