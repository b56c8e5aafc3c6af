"""The organizer API's part of the OpenAPI document (``api/organize.py``), merged into the
one document by ``openapi.document``."""

from __future__ import annotations

_slug = {
    "name": "slug",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
}
_pk = {"name": "pk", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
_error = {
    "description": "Error (401: no usable token, whatever the reason; 403: the token or the "
    "role does not allow it; 404: no such letter for this token)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_errors = {"400": _error, "401": _error, "403": _error, "404": _error, "405": _error}
_secured: list[dict[str, list[str]]] = [{"organizerToken": []}]


def _json(ref: str, description: str = "OK") -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _body(ref: str) -> dict:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _op(summary: str, ok: dict, *, params=(), body: str | None = None, status="200") -> dict:
    op = {
        "summary": summary,
        "security": _secured,
        "parameters": list(params),
        "responses": {status: ok, **_errors, "409": _error},
    }
    if body:
        op["requestBody"] = _body(body)
    return op


def organizer_document(doc: dict) -> dict:
    text, day = {"type": "string"}, {"type": "string", "format": "date"}
    base = "/api/v1/organize/letters"
    doc["paths"].update(
        {
            base: {
                "get": _op("The letters the token reaches (read)", _json("OrganizerLetters")),
                "post": _op(
                    "Create a draft (a write token for all letters)",
                    _json("OrganizerLetter", "Created"),
                    body="LetterInput",
                    status="201",
                ),
            },
            base + "/{slug}": {
                "get": _op("A letter's counts (read)", _json("OrganizerLetter"), params=[_slug])
            },
            base + "/{slug}/publish": {
                "post": _op("Publish (write; owners)", _json("OrganizerLetter"), params=[_slug])
            },
            base + "/{slug}/close": {
                "post": _op("Close (write; owners)", _json("OrganizerLetter"), params=[_slug])
            },
            base + "/{slug}/updates": {
                "post": _op(
                    "Post an update (write; editors)",
                    _json("Created", "Created"),
                    params=[_slug],
                    body="UpdateInput",
                    status="201",
                )
            },
            base + "/{slug}/responses": {
                "post": _op(
                    "Record the addressee's response (write; editors)",
                    _json("Created", "Created"),
                    params=[_slug],
                    body="ResponseInput",
                    status="201",
                )
            },
            base + "/{slug}/demands/{pk}": {
                "post": _op(
                    "Set a demand's status (write; editors)",
                    _json("DemandState"),
                    params=[_slug, _pk],
                    body="DemandInput",
                )
            },
            base + "/{slug}/export": {
                "get": _op(
                    "Stream the confirmed signatures (read); hidden names stay sealed",
                    {
                        "description": "CSV or JSON, streamed",
                        "content": {"text/csv": {}, "application/json": {}},
                    },
                    params=[
                        _slug,
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["csv", "json"]},
                        },
                    ],
                )
            },
        }
    )
    counts = {
        "type": "object",
        "required": ["confirmed", "verified", "held"],
        "properties": {
            "confirmed": {"type": "integer"},
            "verified": {"type": "integer"},
            "held": {"type": "integer"},
        },
    }
    letter = {
        "type": "object",
        "required": ["slug", "title", "status", "role", "url", "counts"],
        "properties": {
            "slug": text,
            "title": text,
            "status": {"type": "string", "enum": ["draft", "open", "closed"]},
            "role": {"type": "string", "enum": ["owner", "editor", "viewer"]},
            "url": text,
            "counts": counts,
        },
    }
    doc["components"]["schemas"].update(
        {
            "OrganizerLetter": letter,
            "OrganizerLetters": {
                "type": "object",
                "required": ["letters"],
                "properties": {"letters": {"type": "array", "items": letter}},
            },
            "LetterInput": {
                "type": "object",
                "required": ["slug", "title", "body"],
                "description": "The fields of the organizer's letter form",
                "properties": {"slug": text, "title": text, "body": text, "addressed_to": text},
            },
            "UpdateInput": {
                "type": "object",
                "required": ["body"],
                "properties": {"body": text, "mail": {"type": "boolean"}},
            },
            "ResponseInput": {
                "type": "object",
                "required": ["by", "date", "quote", "sources"],
                "properties": {
                    "by": text,
                    "role": text,
                    "date": day,
                    "quote": text,
                    "sources": {"type": "array", "items": {"type": "string", "format": "uri"}},
                    "note": text,
                    "mail": {"type": "boolean"},
                },
            },
            "DemandInput": {
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": {"type": "string", "enum": ["open", "met", "partly-met", "refused"]},
                    "note": text,
                    "mail": {"type": "boolean"},
                },
            },
            "DemandState": {
                "type": "object",
                "required": ["id", "status"],
                "properties": {"id": {"type": "integer"}, "status": text},
            },
            "Created": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "integer"}, "body": text, "date": day},
            },
        }
    )
    doc["components"]["securitySchemes"] = {
        "organizerToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (us_r_... read, us_w_... read and write), made on "
            "/accounts/tokens/ or by `undersigned token create`; never in the query string",
        }
    }
    return doc
