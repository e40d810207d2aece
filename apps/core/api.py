"""The base of every API view: a method the path does not serve is a 405 (with ``Allow``)
before anything else, whoever calls.

DRF authenticates and checks permissions before it looks the method up, so ``DELETE
/api/v1/leads`` without credentials was a 401 and, with a key of the other kind, a 401 or 403:
the caller learnt nothing about the method. The method is a property of the path, not of the
caller, so it is checked first.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView


class ApiView(APIView):
    def initial(self, request: Request, *args, **kwargs) -> None:
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
