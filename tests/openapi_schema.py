"""Checking HTTP response bodies against Lightspeed's published X-Series 2.0 OpenAPI document.

The document is OpenAPI 3.0.1, whose schema dialect is not JSON Schema: ``nullable: true``
stands beside ``type`` instead of a type union, and references point into
``components``. :func:`to_json_schema` rewrites it into JSON Schema that ``jsonschema``
validates for real, and :class:`SpecChecker` picks the schema of the operation a request
hit (by method and path template) and the status it answered.

Two additions come from the reference notes rather than the document, and are named as
such wherever they are used:

* errors (§10): ``{"error": <string>}`` with an optional ``"message"`` string, for any
  status the operation does not declare (400, 401, 404, 409, 429, 500);
* webhooks (§8): the 2.0 document has no webhook operations; their bodies are checked
  against the 2026-07 ``Webhook`` shape ``{id, retailer_id, type, url, active}``.

One overlay exists, for empty list pages only: the 2.0 ``Version`` schema requires
integer ``min``/``max``, while the dated API documents ``null`` for both when a page is
empty (§2). :func:`SpecChecker.check` applies it only to a page whose ``data`` is empty.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

__all__ = [
    "API_PREFIX",
    "ERROR_SCHEMA",
    "SPEC_PATH",
    "WEBHOOK_SCHEMA",
    "SpecChecker",
    "component_validator",
    "load_spec",
    "to_json_schema",
]

SPEC_PATH = Path(__file__).resolve().parent / "fixtures" / "xseries-openapi-2.0.json"
API_PREFIX = "/api/2.0"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}

WEBHOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "retailer_id", "type", "url", "active"],
    "properties": {
        "id": {"type": "string"},
        "retailer_id": {"type": "string"},
        "url": {"type": "string", "minLength": 3},
        "active": {"type": "boolean"},
        "type": {
            "enum": [
                "sale.update",
                "product.update",
                "customer.update",
                "inventory.update",
                "register_closure.create",
                "consignment.send",
                "consignment.receive",
            ]
        },
    },
}
_WEBHOOK_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/webhooks"): {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "array", "items": WEBHOOK_SCHEMA}},
    },
    **{
        key: {"type": "object", "required": ["data"], "properties": {"data": WEBHOOK_SCHEMA}}
        for key in (
            ("POST", "/webhooks"),
            ("GET", "/webhooks/{webhook_id}"),
            ("PUT", "/webhooks/{webhook_id}"),
            ("DELETE", "/webhooks/{webhook_id}"),
        )
    },
}


@cache
def load_spec() -> dict[str, Any]:
    return dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema rewritten as JSON Schema (``nullable`` made a type union)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _components(null_version: bool) -> dict[str, Any]:
    schemas = copy.deepcopy(to_json_schema(load_spec()["components"]["schemas"]))
    if null_version:
        for bound in ("min", "max"):
            schemas["Version"]["properties"][bound]["type"] = ["integer", "null"]
    return {"schemas": schemas}


def _validator(schema: dict[str, Any], *, null_version: bool = False) -> Draft202012Validator:
    root = {**schema, "components": _components(null_version)}
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


def component_validator(name: str) -> Draft202012Validator:
    """A validator for one schema of ``components.schemas`` (e.g. ``"Sale"``)."""
    return _validator({"$ref": f"#/components/schemas/{name}"})


@cache
def _operations() -> list[tuple[str, re.Pattern[str], str, dict[str, Any]]]:
    found = []
    for template, item in load_spec()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                found.append((method.upper(), pattern, template, operation))
    return found


def _template_for(method: str, path: str) -> tuple[str, dict[str, Any] | None]:
    for webhook_method, template in _WEBHOOK_BODIES:
        webhook_pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if webhook_method == method and re.match(webhook_pattern, path):
            return template, None
    for op_method, pattern, template, operation in _operations():
        if op_method == method and pattern.match(path):
            return template, operation
    raise AssertionError(f"no operation in the 2.0 spec for {method} {path}")


@dataclass
class SpecChecker:
    """Validates every 2.0 response it is shown and remembers what it saw."""

    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def check(self, method: str, url_path: str, status: int, content: bytes) -> None:
        assert url_path.startswith(API_PREFIX + "/"), url_path
        path = url_path[len(API_PREFIX) :]
        template, operation = _template_for(method, path)
        self.seen.add((method, template, status))
        if status == 204:
            assert content == b"", f"{method} {path}: a 204 must have no body"
            return
        body = json.loads(content)
        schema, null_version = self._schema_for(method, template, operation, status, body)
        errors = sorted(_validator(schema, null_version=null_version).iter_errors(body), key=str)
        assert not errors, f"{method} {path} -> {status}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )

    def event_hook(self, response: httpx.Response) -> None:
        """For ``httpx.Client(event_hooks={"response": [checker.event_hook]})``."""
        if response.request.url.path.startswith(API_PREFIX + "/"):
            response.read()
            self.check(
                response.request.method,
                response.request.url.path,
                response.status_code,
                response.content,
            )

    @staticmethod
    def _schema_for(
        method: str, template: str, operation: dict[str, Any] | None, status: int, body: Any
    ) -> tuple[dict[str, Any], bool]:
        if status >= 400:
            declared = (operation or {}).get("responses", {}).get(str(status), {})
            content = declared.get("content", {}).get("application/json", {})
            return content.get("schema") or ERROR_SCHEMA, False
        if operation is None:
            return _WEBHOOK_BODIES[(method, template)], False
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {template} does not declare status {status}"
        schema = response["content"]["application/json"]["schema"]
        empty_page = isinstance(body, dict) and body.get("data") == [] and "version" in body
        return schema, empty_page
