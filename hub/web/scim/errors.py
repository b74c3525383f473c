"""SCIM error documents (RFC 7644 3.12): `status` as a string, `scimType` where defined."""

from __future__ import annotations

from flask import Response

from hub import jsonutil
from hub.web.scim.schema import ERROR

MEDIA_TYPE = "application/scim+json"


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.scim_type, self.headers = status, detail, scim_type, headers or {}

    def response(self) -> Response:
        doc = {"schemas": [ERROR], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            doc["scimType"] = self.scim_type
        response = Response(jsonutil.dumpb(doc), status=self.status, mimetype=MEDIA_TYPE)
        response.headers.update(self.headers)
        return response
