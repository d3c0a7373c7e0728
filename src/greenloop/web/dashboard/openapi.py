"""The OpenAPI 3.1 description of the dashboard's JSON API, written by hand.

A test checks that every ``/api/`` route is described here and that the document is
valid OpenAPI.
"""

from __future__ import annotations

from typing import Any

from greenloop.web.dashboard.queries import MAX_SEARCH_CHARS
from greenloop.web.dashboard.review import ACTIONS, MAX_KEY_CHARS, MAX_LIMIT, MAX_NOTE_CHARS

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


_MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "Decimal amount"}
_MONEY_OR_NULL = {"type": ["string", "null"], "description": "Decimal amount"}
_WHEN = _nullable("string", format="date-time")
_OBJECT = {"type": "object", "additionalProperties": True}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


_PAGING = [
    _query(
        "page",
        "1-based page number",
        {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
    ),
    _query("page_size", "rows per page", {"type": "integer", "minimum": 1, "maximum": 500}),
]
_RISK_SORT = [
    _query(
        "sort",
        "column to sort by",
        {
            "type": "string",
            "enum": [
                "lifetime_value",
                "p_alive",
                "predicted_value_12m",
                "average_cycle_days",
                "last_purchase",
                "review_at",
                "name",
                "tier",
                "risk",
            ],
            "default": "lifetime_value",
        },
    ),
    _query("order", "sort order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _csv(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/csv": {"schema": {"type": "string"}}}}


_ERRORS = {
    "400": {"$ref": "#/components/responses/Error"},
    "401": {"$ref": "#/components/responses/Error"},
    "404": {"$ref": "#/components/responses/Error"},
}


def _get(
    summary: str, ok: dict[str, Any], parameters: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": ok, **_ERRORS}}
    if parameters:
        op["parameters"] = parameters
    return {"get": op}


def _page_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "page", "page_size", "total"],
        "properties": {
            "data": {"type": "array", "items": _ref(item)},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
            "total": {"type": "integer"},
        },
    }


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Overview": {
        "type": "object",
        "required": ["customers", "persons", "tiers"],
        "properties": {
            "customers": {"type": "integer"},
            "persons": {"type": "integer"},
            "persons_with_tier": {"type": "integer"},
            "tiers": {"type": "object", "additionalProperties": {"type": "integer"}},
            "last_daily_run": {"type": ["object", "null"]},
            "last_analysis": {"type": ["object", "null"]},
            "last_runs": {
                "type": ["object", "null"],
                "description": "The last go of runs of any kind (daily job, sync, import, "
                "analyze, push) less than 10 minutes apart: when, which steps, what they did.",
            },
        },
    },
    "TierHistory": {
        "type": "object",
        "required": ["days", "tiers"],
        "properties": {
            "days": {"type": "array", "items": {"type": "string", "format": "date"}},
            "tiers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "tier": {"type": "string"},
                        "persons": {"type": "array", "items": {"type": "integer"}},
                    },
                },
            },
        },
    },
    "Movements": {
        "type": "object",
        "required": ["upgrades", "downgrades", "pairs"],
        "properties": {
            "since": _WHEN,
            "until": _WHEN,
            "upgrades": {"type": "integer"},
            "downgrades": {"type": "integer"},
            "by_change": {"type": "object", "additionalProperties": {"type": "integer"}},
            "pairs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "from": _nullable("string"),
                        "to": _nullable("string"),
                        "change": {"type": "string"},
                        "count": {"type": "integer"},
                    },
                },
            },
        },
    },
    "RevenueMonth": {
        "type": "object",
        "properties": {
            "month": {"type": "string"},
            "ecom_value": _MONEY,
            "instore_value": _MONEY,
            "ecom_purchases": {"type": "integer"},
            "instore_purchases": {"type": "integer"},
        },
    },
    "PersonSummary": {
        "type": "object",
        "required": ["person_id", "tier", "lifetime_value"],
        "properties": {
            "person_id": {"type": "string"},
            "name": _nullable("string"),
            "email": _nullable("string"),
            "phone": _nullable("string"),
            "customer_code": _nullable("string"),
            "profiles": {"type": "integer"},
            "tier": _nullable("string"),
            "lifetime_value": _MONEY,
            "purchases": {"type": "integer"},
            "last_purchase": _WHEN,
            "risk": {"type": "string"},
        },
    },
    "Person": {
        "type": "object",
        "description": "Profiles, links with reasons, purchases from both channels, metrics, "
        "tier with reasons, to_next/keep, history and predictions.",
        "required": ["person_id", "profiles", "purchases", "tier", "history"],
        "properties": {
            "person_id": {"type": "string"},
            "profiles": {"type": "array", "items": _OBJECT},
            "links": {"type": "array", "items": _OBJECT},
            "purchases": {"type": "array", "items": _OBJECT},
            "lifetime_value": _MONEY_OR_NULL,
            "tier": _nullable("string"),
            "reasons": {"type": "array"},
            "to_next": {"type": "array"},
            "keep": {"type": "array"},
            "history": {"type": "array", "items": _OBJECT},
            "predictions": _OBJECT,
        },
    },
    "AtRisk": {
        "type": "object",
        "properties": {
            "person_id": {"type": "string"},
            "name": _nullable("string"),
            "tier": _nullable("string"),
            "lifetime_value": _MONEY,
            "risk": {"type": "string"},
            "drop_at_review": {"type": "boolean"},
            "p_alive": _MONEY_OR_NULL,
            "why": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Backtest": {
        "type": "object",
        "description": "The last `greenloop backtest`: predictions made as of a past date "
        "scored against what followed (README: Backtest).",
        "required": ["as_of", "horizon_days", "auc", "purchases", "at_risk", "recency_baseline"],
        "properties": {
            "as_of": {"type": "string", "format": "date-time"},
            "ran_at": {"type": "string", "format": "date-time"},
            "horizon_days": {"type": "integer"},
            "people": {"type": "integer"},
            "bought_again": {"type": "integer"},
            "model": _nullable("string"),
            "model_reason": _nullable("string"),
            "auc": _nullable("number"),
            "calibration_error": _nullable("number"),
            "calibration": {"type": "array", "items": _OBJECT},
            "purchases": _OBJECT,
            "value_12m": _OBJECT,
            "tiers": _OBJECT,
            "at_risk": _OBJECT,
            "recency_baseline": _OBJECT,
            "predictions": _OBJECT,
        },
    },
    "Program": {
        "type": "object",
        "required": ["tiers", "downgrade"],
        "properties": {
            "tiers": {"type": "array", "items": _OBJECT},
            "no_tier_persons": {"type": "integer"},
            "downgrade": _OBJECT,
            "toml": {"type": "string"},
        },
    },
    "Preview": {
        "type": "object",
        "required": ["persons", "moves", "matrix", "movers"],
        "properties": {
            "persons": {"type": "integer"},
            "moves": {"type": "integer"},
            "matrix": _OBJECT,
            "counts_now": _OBJECT,
            "counts_with_program": _OBJECT,
            "movers": {"type": "array", "items": _OBJECT},
            "movers_shown": {"type": "integer"},
        },
    },
    "SyncHealth": {
        "type": "object",
        "required": ["resources", "runs"],
        "properties": {
            "resources": {"type": "array", "items": _OBJECT},
            "runs": {"type": "array", "items": _OBJECT},
            "webhook_inbox": {"type": ["object", "null"]},
            "reconcile": {
                "type": ["object", "null"],
                "description": "null when it could not be computed (see reconcile_error)",
            },
            "reconcile_error": _nullable("string"),
            "figures_computed_at": {"type": "string", "format": "date-time"},
            "rate_budget": {
                "type": ["object", "null"],
                "description": "the serving process's live budget; null outside `serve`",
                "properties": {
                    "limit": _nullable("integer"),
                    "remaining": _nullable("integer"),
                    "requests_sent": {"type": "integer"},
                    "waited_seconds": {"type": "number"},
                    "window_seconds": {"type": "number"},
                },
            },
            "lightspeed_connection": {
                "type": ["object", "null"],
                "description": "the Lightspeed add-on (OAuth) connection, never its tokens; "
                "null when GreenLoop runs on a personal token",
                "properties": {
                    "domain_prefix": {"type": "string"},
                    "state": {
                        "type": "string",
                        "enum": ["connected", "needs_reconnect", "revoked"],
                    },
                    "scopes": {"type": "array", "items": {"type": "string"}},
                    "access_expires_at": _WHEN,
                    "last_refresh_at": _WHEN,
                    "refresh_in_flight": {"type": "boolean"},
                    "problem": _nullable("string"),
                },
            },
        },
    },
    "PushRun": {
        "type": "object",
        "required": ["id", "outcome", "moves_by_status"],
        "properties": {
            "id": {"type": "integer"},
            "started_at": _WHEN,
            "finished_at": _WHEN,
            "dry_run": {"type": "boolean"},
            "outcome": {"type": "string"},
            "planned": {"type": "integer"},
            "moved": {"type": "integer"},
            "failed": {"type": "integer"},
            "requests": {"type": "integer"},
            "error": _nullable("string"),
            "moves_by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    },
    "Progress": {
        "type": "object",
        "required": ["customer_id", "tier", "to_next", "keep"],
        "properties": {
            "customer_id": {"type": "string"},
            "tier": _nullable("string"),
            "tier_since": _WHEN,
            "review_at": _WHEN,
            "reasons": {"type": "array"},
            "to_next": {"type": "array", "items": {"type": "string"}},
            "keep": {"type": "array", "items": {"type": "string"}},
            "lifetime_value": _MONEY,
            "visits_30d": {"type": "integer"},
            "computed_at": _WHEN,
        },
    },
}

_TIER = _nullable("string")
_SCHEMAS["SuggestionSide"] = {
    "type": "object",
    "description": "One member of a suggested pair: a profile (customer_id) or an eCom "
    "buyer (orders), with the person it is in now. Only key when the member is gone.",
    "required": ["key"],
    "properties": {
        "key": {"type": "string", "description": "customer:<id> or email:<address>"},
        "kind": {"type": "string", "enum": ["profile", "ecom_buyer"]},
        "name": _nullable("string"),
        "email": _nullable("string"),
        "phone": _nullable("string"),
        "address": _nullable("string"),
        "code": _nullable("string"),
        "birth_date": _nullable("string"),
        "customer_id": {"type": "string"},
        "orders": {"type": "integer"},
        "person": {
            "type": "object",
            "required": ["id", "tier"],
            "properties": {
                "id": {"type": "string"},
                "name": _nullable("string"),
                "tier": _TIER,
                "profiles": {"type": "integer"},
                "lifetime_value": _MONEY,
                "purchases": {"type": "integer"},
                "last_purchase": _WHEN,
                "ecom_purchases": {"type": "integer"},
                "instore_purchases": {"type": "integer"},
            },
        },
    },
}
_SCHEMAS["Suggestion"] = {
    "type": "object",
    "required": ["a", "b", "probability", "evidence", "skipped", "sides"],
    "properties": {
        "a": {"type": "string"},
        "b": {"type": "string"},
        "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "evidence": {
            "type": "array",
            "items": {"type": "string"},
            "description": "what agrees, then what does not",
        },
        "skipped": {"type": "boolean", "description": "skipped before: at the queue's end"},
        "sides": {
            "type": "array",
            "items": _ref("SuggestionSide"),
            "minItems": 2,
            "maxItems": 2,
        },
        "tier_if_joined": _TIER,
    },
}
_SCHEMAS["Suggestions"] = {
    "type": "object",
    "required": ["total", "offset", "limit", "suggestions"],
    "properties": {
        "total": {"type": "integer", "description": "suggestions waiting in all"},
        "offset": {"type": "integer"},
        "limit": {"type": "integer"},
        "suggestions": {"type": "array", "items": _ref("Suggestion")},
    },
}
_SCHEMAS["Decision"] = {
    "type": "object",
    "required": ["action", "a", "b", "tier", "tier_changes", "pushed", "push_note", "remaining"],
    "properties": {
        "action": {"type": "string", "enum": list(ACTIONS)},
        "a": {"type": "string"},
        "b": {"type": "string"},
        "tier": {**_TIER, "description": "the joined person's tier (accept)"},
        "tier_changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["person_id", "from", "to"],
                "properties": {"person_id": {"type": "string"}, "from": _TIER, "to": _TIER},
            },
        },
        "pushed": {"type": "boolean", "description": "the group change reached Lightspeed"},
        "push_note": {
            "type": "string",
            "description": "why not, when it did not (the daily push moves them then)",
        },
        "remaining": {"type": "integer", "description": "suggestions still waiting"},
    },
}
_MEMBER_KEY = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS}
_DECIDE = {
    "post": {
        "summary": "Accept, reject or skip a suggestion",
        "description": "Accept joins the pair into one person at once (tier history: "
        '"profiles joined by staff") and pushes the group change; reject keeps them apart '
        "for good; skip moves the pair to the end of the queue. 404 when the pair is not "
        "waiting (decided already, or dropped by a newer analysis). With a session "
        "cookie, send the X-CSRF-Token header.",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["a", "b", "action"],
                        "properties": {
                            "a": _MEMBER_KEY,
                            "b": _MEMBER_KEY,
                            "action": {"type": "string", "enum": list(ACTIONS)},
                            "note": {"type": "string", "maxLength": MAX_NOTE_CHARS},
                        },
                    }
                }
            },
        },
        "responses": {"200": _json(_ref("Decision")), "403": _ERRORS["400"], **_ERRORS},
    }
}

_MOMENT = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
}
_PERIOD = [
    _query(
        "since",
        "start: a date (that day included) or a date-time; default 90 days before until",
        _MOMENT,
    ),
    _query(
        "until",
        "end: a date (that day included) or a date-time (excluded); default the day of "
        "the last analysis. A period that ends before it starts is empty.",
        _MOMENT,
    ),
]


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/openapi.json": {
            "get": {**_get("This document", _json(_OBJECT))["get"], "security": []}
        },
        "/api/serve-proof": {
            "get": {
                "summary": "Proof that this serve holds the API token and reads a database",
                "description": "For `greenloop customers show`, which asks a running serve "
                "before opening the database and sends the token only after this proof: "
                "hex HMAC-SHA256 of the nonce, a newline and the database URL, keyed with "
                "dashboard.api_token. Answered to loopback clients not behind a proxy "
                "only; 404 elsewhere and while no API token is set.",
                "security": [],
                "parameters": [
                    {
                        "name": "nonce",
                        "in": "query",
                        "required": True,
                        "description": "fresh random hex digits",
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{32,128}$"},
                    }
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["proof"],
                            "properties": {"proof": {"type": "string"}},
                        }
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/overview": _get("Counts, tiers, last daily run", _json(_ref("Overview"))),
        "/api/tiers/history": _get("Persons per tier per day", _json(_ref("TierHistory"))),
        "/api/movements": _get("Tier changes in a period", _json(_ref("Movements")), _PERIOD),
        "/api/revenue": _get(
            "Value and purchases per month, eCom vs in-store",
            _json(
                {
                    "type": "object",
                    "required": ["data", "computed_at"],
                    "properties": {
                        "data": {"type": "array", "items": _ref("RevenueMonth")},
                        "computed_at": {"type": "string", "format": "date-time"},
                    },
                }
            ),
        ),
        "/api/customers": _get(
            "Search persons by name, email, phone, code or id",
            _json(_page_of("PersonSummary")),
            [
                _query(
                    "q",
                    "search text (% and _ are plain characters)",
                    {"type": "string", "maxLength": MAX_SEARCH_CHARS},
                ),
                *_PAGING,
            ],
        ),
        "/api/customers/{id}": _get(
            "One person in full (person id, customer id, email, phone or code)",
            _json(_ref("Person")),
            [_path("id")],
        ),
        "/api/at-risk": _get(
            "At-risk and likely-to-drop persons", _json(_page_of("AtRisk")), _RISK_SORT + _PAGING
        ),
        "/api/at-risk.csv": _get("The at-risk list as CSV", _csv("CSV"), _RISK_SORT),
        "/api/backtest": _get(
            "The last backtest of the predictions and the at-risk list (404: none yet)",
            _json(_ref("Backtest")),
        ),
        "/api/exports/master.csv": _get(
            "customer_analytics_master.csv", _csv("customer_analytics_master.csv")
        ),
        "/api/program": _get("The tier program and counts per tier", _json(_ref("Program"))),
        "/api/program/preview": {
            "post": {
                "summary": "Who would move where under another program (nothing is applied)",
                "description": "With a session cookie, send the X-CSRF-Token header.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["program"],
                                "properties": {
                                    "program": {
                                        "type": "string",
                                        "description": "a [program] section in TOML",
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {"200": _json(_ref("Preview")), "403": _ERRORS["400"], **_ERRORS},
            }
        },
        "/api/sync-health": _get(
            "Cursors, sync runs, webhook inbox, reconciliation", _json(_ref("SyncHealth"))
        ),
        "/api/push-runs": _get("Push runs, newest first", _json(_page_of("PushRun")), _PAGING),
        "/api/push-runs/{run_id}": _get(
            "One push run's log",
            _json(_ref("PushRun")),
            [_path("run_id", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})],
        ),
        "/api/suggestions": _get(
            "Identity match suggestions waiting for staff, best first (skipped ones last)",
            _json(_ref("Suggestions")),
            [
                _query(
                    "limit",
                    "how many",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20},
                ),
                _query(
                    "offset",
                    "skip this many first",
                    {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0},
                ),
            ],
        ),
        "/api/suggestions/decide": _DECIDE,
        "/api/progress/{customer_id}": {
            "get": {
                "summary": "One customer's tier, progress to the next tier and what keeps it",
                "description": "For the retailer's app; needs dashboard.progress_api_key.",
                "security": [{"progressKey": []}],
                "parameters": [_path("customer_id")],
                "responses": {"200": _json(_ref("Progress")), **_ERRORS},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GreenLoop dashboard API",
            "version": "1",
            "description": "Everything the dashboard shows. Money is a decimal string; "
            "datetimes are ISO 8601 in UTC; lists are paginated; errors are "
            '{"error": {"code", "message"}}. A staff session (the read-only login) may '
            "call /api/customers and /api/customers/{id} only; every other route answers "
            "it 403 forbidden.",
        },
        "paths": paths,
        "security": [{"session": []}, {"bearer": []}],
        "components": {
            "schemas": _SCHEMAS,
            "responses": {"Error": _json(_ref("Error"), "An error")},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "greenloop_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "progressKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
