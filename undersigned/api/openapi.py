"""The OpenAPI 3.1 document for /api/v1/, written by hand; a test checks it against the URLs."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse

from undersigned.api.organize_openapi import organizer_document
from undersigned.api.views import api_view
from undersigned.web.caching import cached_response

_slug = {
    "name": "slug",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
}
_error = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _json(ref: str, description: str = "OK") -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def document() -> dict:
    text = {"type": "string"}
    held_count = {
        "type": ["integer", "null"],
        "minimum": 0,
        "description": "Confirmed signatures the abuse checks hold for review (an aggregate: "
        "never who); not in signature_count until organizers or operators release them",
    }
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "Undersigned API",
            "version": "1",
            "description": "Open letters with verified, private signatures. Read-only except "
            "for signing; signing answers 202 whatever the email's history, and the signer "
            "confirms by email.",
        },
        "servers": [{"url": settings.BASE_URL}],
        "paths": {
            "/api/v1/letters/{slug}": {
                "get": {
                    "summary": "A published letter with its counts",
                    "parameters": [_slug],
                    "responses": {"200": _json("Letter"), "404": _error},
                }
            },
            "/api/v1/letters/{slug}/count": {
                "get": {
                    "summary": "The counts alone (tiny, cacheable; pages poll it)",
                    "parameters": [_slug],
                    "responses": {"200": _json("Count"), "403": _error, "404": _error},
                }
            },
            "/api/v1/letters/{slug}/signatures": {
                "get": {
                    "summary": "Public signatories, one page at a time (random order)",
                    "parameters": [
                        _slug,
                        {
                            "name": "after",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^[0-9]+$"},
                            "description": "The `next` cursor of the previous page.",
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 200,
                                "default": 50,
                            },
                        },
                    ],
                    "responses": {
                        "200": _json("SignaturePage"),
                        "400": _error,
                        "403": _error,
                        "404": _error,
                    },
                },
                "post": {
                    "summary": "Sign; a confirmation link goes to the email address",
                    "parameters": [_slug],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SignatureInput"}
                            }
                        },
                    },
                    "responses": {
                        "202": _json("Accepted", "Accepted; the signer must confirm by email"),
                        "400": _json("ValidationError", "Bad input, with messages per field"),
                        "403": _error,
                        "404": _error,
                        "409": _error,
                        "413": _error,
                    },
                },
            },
            "/api/v1/letters/{slug}/forge-challenges": {
                "post": {
                    "summary": "A challenge for a GitHub, GitLab or Codeberg account to sign with "
                    "one of its SSH keys (ssh-keygen -Y sign), valid ten minutes, once; sign "
                    "then with forge, forge_username, challenge and ssh_signature",
                    "parameters": [_slug],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ForgeChallengeInput"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("ForgeChallenge", "The challenge and how to sign it"),
                        "400": _error,
                        "403": _error,
                        "404": _error,
                        "409": _error,
                        "413": _error,
                    },
                }
            },
            "/api/v1/letters/{slug}/timeline": {
                "get": {
                    "summary": "How the letter grew: cumulative counted signatures at the end of "
                    "each hour or day (buckets of fewer than k merge with the next; members-only "
                    "and small letters by day only). Any site may read it (CORS *)",
                    "parameters": [
                        _slug,
                        {
                            "name": "bucket",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["hour", "day"], "default": "day"},
                        },
                        {
                            "name": "format",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "string",
                                "enum": ["json", "csv"],
                                "default": "json",
                            },
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The points, as JSON or (format=csv) as CSV",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Timeline"}
                                },
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        "400": _error,
                        "403": _error,
                        "404": _error,
                    },
                },
            },
            "/api/v1/pledges/{slug}": {
                "get": {
                    "summary": "A published pledge: 'I will <action> if <threshold> people "
                    "commit by <deadline>', its status and counts (never who committed)",
                    "parameters": [_slug],
                    "responses": {"200": _json("Pledge"), "404": _error},
                }
            },
            "/api/v1/pledges/{slug}/commitments": {
                "post": {
                    "summary": "Commit; a confirmation link goes to the email address (202 "
                    "whatever the address's history)",
                    "parameters": [_slug],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CommitmentInput"}
                            }
                        },
                    },
                    "responses": {
                        "202": _json("Accepted", "Accepted; the committer must confirm by email"),
                        "400": _json("ValidationError", "Bad input, with messages per field"),
                        "404": _error,
                        "409": _error,
                        "413": _error,
                    },
                }
            },
            "/api/v1/pledges/{slug}/forge-challenges": {
                "post": {
                    "summary": "A challenge for a code-forge account to sign, to commit to the "
                    "pledge (as for a letter's)",
                    "parameters": [_slug],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ForgeChallengeInput"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("ForgeChallenge", "The challenge and how to sign it"),
                        "400": _error,
                        "404": _error,
                        "409": _error,
                        "413": _error,
                    },
                }
            },
            "/api/v1/letters/{slug}/events": {
                "get": {
                    "summary": "The letter's public timeline, newest first: publication, "
                    "versions, updates, demands, responses, closing; milestones",
                    "parameters": [
                        _slug,
                        {
                            "name": "before",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"},
                            "description": "The `next` cursor of the previous page.",
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 100,
                                "default": 20,
                            },
                        },
                    ],
                    "responses": {
                        "200": _json("EventPage"),
                        "400": _error,
                        "403": _error,
                        "404": _error,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": text}},
                "Version": {
                    "type": "object",
                    "required": ["number", "hash", "published_at", "signature_count"],
                    "properties": {
                        "number": {"type": "integer", "minimum": 1},
                        "hash": {
                            "type": "string",
                            "description": "SHA-256 of the version's rendered title, addressee "
                            "and body (NFC, joined by newlines)",
                        },
                        "published_at": {"type": "string", "format": "date-time"},
                        "corrections_only": {"type": "boolean"},
                        "signature_count": {
                            "type": ["integer", "null"],
                            "description": "Counted signatures given for this version",
                        },
                    },
                },
                "Demand": {
                    "type": "object",
                    "required": ["id", "text", "status", "updated_at"],
                    "properties": {
                        "id": {"type": "integer"},
                        "text": text,
                        "status": {
                            "type": "string",
                            "enum": ["open", "met", "partly-met", "refused"],
                        },
                        "updated_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Event": {
                    "type": "object",
                    "required": ["kind", "id", "date", "text", "url"],
                    "description": "A timeline entry; some kinds carry more fields (an update's "
                    "body; a response's by, role, date, quote, sources, note; a demand's "
                    "status and note; a version's number)",
                    "properties": {
                        "kind": text,
                        "id": {"type": "integer", "description": "Stable; the permalink's"},
                        "date": {"type": "string", "format": "date-time"},
                        "text": text,
                        "url": {"type": "string", "format": "uri"},
                        # an update
                        "body": {"type": "string", "description": "An update's Markdown"},
                        "edited_at": {"type": ["string", "null"], "format": "date-time"},
                        # a response
                        "by": text,
                        "role": text,
                        "said_on": {"type": "string", "format": "date"},
                        "quote": {"type": "string", "description": "Markdown"},
                        "sources": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Source"},
                        },
                        "note": {"type": "string", "description": "The organizers' note"},
                        "note_sources": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Source"},
                        },
                        # a demand
                        "demand_id": {"type": ["integer", "null"]},
                        "demand": text,
                        "status": {"type": ["string", "null"]},
                        # a new version
                        "number": {"type": ["integer", "null"]},
                        "corrections_only": {"type": "boolean"},
                        # a pledge on the letter
                        "pledge_url": {"type": "string", "format": "uri"},
                        # signatures removed from the count, or released
                        "count": {"type": ["integer", "null"]},
                        "reason": text,
                    },
                },
                "Source": {
                    "type": "object",
                    "required": ["url", "seen_on"],
                    "properties": {
                        "url": {"type": "string", "format": "uri"},
                        "seen_on": {"type": "string", "format": "date"},
                    },
                },
                "EventPage": {
                    "type": "object",
                    "required": ["events", "next"],
                    "properties": {
                        "events": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Event"},
                        },
                        "next": {
                            "type": ["string", "null"],
                            "description": "The cursor of the next (older) page, as `before`",
                        },
                        "next_url": {"type": ["string", "null"]},
                    },
                },
                "ValidationError": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": text,
                        "fields": {
                            "type": "object",
                            "additionalProperties": {"type": "array", "items": text},
                        },
                    },
                },
                "Letter": {
                    "type": "object",
                    "required": [
                        "slug",
                        "title",
                        "status",
                        "signature_count",
                        "verified_count",
                        "updated_at",
                    ],
                    "properties": {
                        "slug": text,
                        "title": text,
                        "addressed_to": text,
                        "status": {"type": "string", "enum": ["open", "closed"]},
                        "visibility": {"type": "string", "enum": ["public", "unlisted", "members"]},
                        "organization": text,
                        "domains": {"type": "array", "items": text},
                        "invalidations": {
                            "type": "array",
                            "description": "Signatures operators removed from the count, and why",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "count": {"type": "integer"},
                                    "reason": text,
                                    "date": {"type": "string", "format": "date"},
                                },
                            },
                        },
                        "url": {"type": "string", "format": "uri"},
                        "deadline": {"type": ["string", "null"], "format": "date-time"},
                        "time_zone": {
                            "type": "string",
                            "description": "IANA zone the deadline is given in",
                        },
                        "published_at": {"type": ["string", "null"], "format": "date-time"},
                        "closed_at": {"type": ["string", "null"], "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"},
                        "signature_count": {
                            "type": ["integer", "null"],
                            "minimum": 0,
                            "description": "null when only members may see the count",
                        },
                        "verified_count": {"type": ["integer", "null"], "minimum": 0},
                        "held_count": held_count,
                        "version": {
                            "type": ["object", "null"],
                            "description": "The current version: its number and hash",
                            "properties": {"number": {"type": "integer"}, "hash": text},
                        },
                        "versions": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Version"},
                        },
                        "demands": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Demand"},
                        },
                        "events_url": {"type": "string", "format": "uri"},
                        "goal": {
                            "type": ["integer", "null"],
                            "minimum": 1,
                            "description": "The organizers' goal, if any (it may be raised)",
                        },
                        "public_after_choices": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "description": "The counts a signer may choose as public_after "
                            "(display threshold): 50, 100, 300 and the organizers' own",
                        },
                        "milestones": {
                            "type": "array",
                            "description": "Counts the letter reached, each with the hour it "
                            "first did (never removed when the count falls back)",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "count": {"type": "integer"},
                                    "reached_at": {"type": "string", "format": "date-time"},
                                },
                            },
                        },
                        "breakdown": {
                            "type": ["object", "null"],
                            "description": "Counted signatures by department and by how they "
                            "were verified, and public signers by the organization (affiliation) "
                            "they gave, recounted by the worker every minute or so; groups of "
                            'fewer than k fold into "other"',
                            "properties": {
                                "department": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                },
                                "organization": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                },
                                "verification": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                },
                            },
                        },
                        "organized_by": {
                            "type": "string",
                            "description": 'How the organizers are named ("the organizers" '
                            "when they give no name)",
                        },
                    },
                },
                "Timeline": {
                    "type": "object",
                    "required": ["bucket", "points"],
                    "properties": {
                        "bucket": {
                            "type": "string",
                            "enum": ["hour", "day"],
                            "description": "The bucket shown (day, when hours would be too fine)",
                        },
                        "k": {
                            "type": "integer",
                            "description": "No bucket or group holds fewer signatures",
                        },
                        "points": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "t": {"type": "string", "format": "date-time"},
                                    "count": {"type": "integer", "minimum": 0},
                                },
                            },
                        },
                    },
                },
                "Count": {
                    "type": "object",
                    "required": ["signature_count", "verified_count"],
                    "properties": {
                        "signature_count": {"type": "integer", "minimum": 0},
                        "verified_count": {"type": "integer", "minimum": 0},
                        "held_count": held_count,
                        "counted_at": {
                            "type": ["string", "null"],
                            "format": "date-time",
                            "description": "The hour (UTC) of the last count: never finer, "
                            "since it would date the signatures counted then",
                        },
                    },
                },
                "PublicSignature": {
                    "type": "object",
                    "description": "A listed signatory. name, affiliation and comment are null "
                    "when the signer chose to hide their name.",
                    "required": ["name", "affiliation", "department", "comment", "verified_domain"],
                    "properties": {
                        "forge": {
                            "type": ["string", "null"],
                            "enum": ["github", "gitlab", "codeberg", None],
                            "description": "The code forge whose account the signer proved "
                            "with an SSH signature, if any",
                        },
                        "verification": {
                            "type": ["string", "null"],
                            "description": "How the signer was verified, as the page shows "
                            "it: 'works at example.com', 'github.com/<user>' (a public signer's "
                            "forge account) or 'verified GitHub account' (a hidden one's)",
                        },
                        "name": {"type": ["string", "null"]},
                        "affiliation": {"type": ["string", "null"]},
                        "department": {
                            "type": ["string", "null"],
                            "description": "null for a signer whose name is withheld, when "
                            "fewer than UNDERSIGNED_SMALLEST_GROUP (5) such signers share the "
                            "department: the page says 'another department'",
                        },
                        "comment": {"type": ["string", "null"]},
                        "verified_domain": {
                            "type": ["string", "null"],
                            "description": "The organization domain the signer proved an "
                            "address at, if any (null for a forge account)",
                        },
                    },
                },
                "SignaturePage": {
                    "type": "object",
                    "required": ["signatures", "next"],
                    "properties": {
                        "signatures": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/PublicSignature"},
                        },
                        "next": {"type": ["string", "null"]},
                    },
                },
                "SignatureInput": {
                    "type": "object",
                    "description": "email is required unless the four forge fields prove a "
                    "code-forge account (see forge-challenges); with both, the usual "
                    "confirmation mail follows",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "forge": {"type": "string", "enum": ["github", "gitlab", "codeberg"]},
                        "forge_username": {"type": "string", "maxLength": 64},
                        "challenge": {
                            "type": "string",
                            "maxLength": 500,
                            "description": "The challenge from forge-challenges, unchanged",
                        },
                        "ssh_signature": {
                            "type": "string",
                            "maxLength": 8000,
                            "description": "The armored signature that `ssh-keygen -Y sign` "
                            "printed for the challenge",
                        },
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "email": {"type": "string", "format": "email", "maxLength": 254},
                        "affiliation": {"type": "string", "maxLength": 200},
                        "department": {"type": "string", "maxLength": 100},
                        "comment": {"type": "string", "maxLength": 1000},
                        "display": {
                            "type": "string",
                            "enum": ["public", "hidden", "count", "threshold"],
                            "default": "public",
                            "description": "threshold: listed as name withheld until the "
                            "letter's count (its verified count, if it verifies) reaches "
                            "public_after, then shown as public",
                        },
                        "public_after": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "With display threshold (and required by it): "
                            "show the name once this many have signed; one of the letter's "
                            "public_after_choices (50, 100, 300 and the organizers' own)",
                        },
                        "version": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "The version of the text the signer was shown (the "
                            "current one if left out)",
                        },
                        "updates": {
                            "type": "boolean",
                            "default": False,
                            "description": "Email me updates about this letter",
                        },
                    },
                },
                "Pledge": {
                    "type": "object",
                    "required": [
                        "slug",
                        "action",
                        "threshold",
                        "deadline",
                        "status",
                        "commitment_count",
                        "verified_count",
                        "met_at",
                    ],
                    "properties": {
                        "slug": text,
                        "action": text,
                        "threshold": {"type": "integer", "minimum": 1},
                        "deadline": {
                            "type": "string",
                            "format": "date",
                            "description": "Commitments close at the end of this day (UTC)",
                        },
                        "status": {"type": "string", "enum": ["open", "met", "failed"]},
                        "commitment_count": {"type": "integer", "minimum": 0},
                        "verified_count": {"type": "integer", "minimum": 0},
                        "met_at": {
                            "type": ["string", "null"],
                            "format": "date-time",
                            "description": "When it was met, to the hour",
                        },
                        "failed_at": {"type": ["string", "null"], "format": "date-time"},
                        "verified_only": {"type": "boolean"},
                        "letter": {"type": ["string", "null"], "description": "Its letter's slug"},
                        "url": {"type": "string", "format": "uri"},
                    },
                },
                "CommitmentInput": {
                    "type": "object",
                    "description": "email, or the four forge fields (a challenge from the "
                    "pledge's forge-challenges, signed): a forge account commits at once, "
                    "without an address, and gets its private link in `receipt_url`",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "forge": {"type": "string", "enum": ["github", "gitlab", "codeberg"]},
                        "forge_username": {"type": "string", "maxLength": 64},
                        "challenge": {"type": "string", "maxLength": 500},
                        "ssh_signature": {"type": "string", "maxLength": 8000},
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "email": {"type": "string", "format": "email", "maxLength": 254},
                        "affiliation": {"type": "string", "maxLength": 200},
                        "department": {"type": "string", "maxLength": 100},
                        "comment": {"type": "string", "maxLength": 1000},
                        "display": {
                            "type": "string",
                            "enum": ["public", "hidden", "count", "threshold"],
                            "default": "public",
                            "description": "How the commitment is shown once the pledge is met; "
                            "threshold: not named until the pledge is met and public_after "
                            "people have committed, then shown as public",
                        },
                        "public_after": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "With display threshold (and required by it): "
                            "show the name once the pledge is met and this many have committed; "
                            "one of 50, 100, 300, the pledge's threshold, and its letter's "
                            "public_after_choices",
                        },
                    },
                },
                "Accepted": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {
                            "type": "string",
                            "enum": ["pending_confirmation", "signed", "committed"],
                        },
                        "receipt_url": {
                            "type": "string",
                            "description": "Only for a forge account signing without an "
                            "email: the signer's private link (withdraw, change display), shown "
                            "this once",
                        },
                    },
                },
                "ForgeChallengeInput": {
                    "type": "object",
                    "required": ["forge", "username"],
                    "additionalProperties": False,
                    "properties": {
                        "forge": {"type": "string", "enum": ["github", "gitlab", "codeberg"]},
                        "username": {"type": "string", "maxLength": 64},
                    },
                },
                "ForgeChallenge": {
                    "type": "object",
                    "required": ["challenge", "namespace", "expires_at", "command", "commands"],
                    "properties": {
                        "challenge": {"type": "string"},
                        "namespace": {"type": "string"},
                        "expires_at": {"type": "string", "format": "date-time"},
                        "command": {
                            "type": "string",
                            "description": "The shell command that signs it (Linux, macOS)",
                        },
                        "commands": {
                            "type": "object",
                            "properties": {
                                "linux": {"type": "string"},
                                "macos": {"type": "string"},
                                "windows": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    }

    return organizer_document(doc)


@api_view(["GET", "HEAD"])
def openapi_json(request):
    """The document changes only with a deploy: each process builds it once a minute."""
    return cached_response(
        request,
        "openapi",
        60,
        10,
        lambda: JsonResponse(document(), json_dumps_params={"indent": 2}),
    )
