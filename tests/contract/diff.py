"""Compare two OpenAPI documents the way a client generated from the old one would feel it.

``diff(old, new)`` lists :class:`Change` s. *Breaking*: an operation, status, content type or
response field removed; a new required request field or parameter; a type or enum narrowed
where the client sends it, widened where the client reads it; an operationId renamed.
*Additions*: new operations, statuses, optional fields and parameters, widened inputs.
Anything else that differs (descriptions, examples) is listed by :func:`other_differences`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
Schema = dict[str, Any]
Direction = Literal["request", "response"]


@dataclass(frozen=True)
class Change:
    breaking: bool
    where: str
    what: str

    def __str__(self) -> str:
        return f"{'BREAKING' if self.breaking else 'addition'}: {self.where}: {self.what}"


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    old_ops, new_ops = _operations(old), _operations(new)
    for key in sorted(old_ops.keys() - new_ops.keys()):
        changes.append(Change(True, key, "operation removed"))
    for key in sorted(new_ops.keys() - old_ops.keys()):
        changes.append(Change(False, key, "operation added"))
    for key in sorted(old_ops.keys() & new_ops.keys()):
        changes += _operation(key, old_ops[key], new_ops[key], _Docs(old, new))
    return changes


def breaking(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.breaking]


def other_differences(old: Any, new: Any, path: str = "", limit: int = 20) -> list[str]:
    """JSON paths where the documents differ at all (the first ``limit``)."""
    found: list[str] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(a.keys() | b.keys(), key=str):
                walk(a.get(k, _MISSING), b.get(k, _MISSING), f"{at}/{k}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{at}/{i}")
        elif a != b:
            found.append(at or "/")

    walk(old, new, path)
    return found


_MISSING = object()


class _Docs:
    def __init__(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.old, self.new = old, new

    def resolve(self, schema: Any, side: Literal["old", "new"]) -> Schema:
        doc = self.old if side == "old" else self.new
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            target: Any = doc
            for part in schema["$ref"].lstrip("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema, seen = target, seen + 1
        return schema if isinstance(schema, dict) else {}


def _operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, item in doc.get("paths", {}).items()
        for method, op in item.items()
        if method in METHODS
    }


def _operation(key: str, old: dict[str, Any], new: dict[str, Any], docs: _Docs) -> list[Change]:
    changes: list[Change] = []
    if old.get("operationId") != new.get("operationId"):
        what = f"operationId {old.get('operationId')!r} became {new.get('operationId')!r}"
        changes.append(Change(True, key, what))
    changes += _parameters(key, old.get("parameters", []), new.get("parameters", []), docs)
    changes += _request_body(key, old.get("requestBody"), new.get("requestBody"), docs)
    old_res, new_res = old.get("responses", {}), new.get("responses", {})
    for status in sorted(old_res.keys() - new_res.keys()):
        changes.append(Change(True, key, f"response {status} removed"))
    for status in sorted(new_res.keys() - old_res.keys()):
        changes.append(Change(False, key, f"response {status} added"))
    for status in sorted(old_res.keys() & new_res.keys()):
        where = f"{key}: response {status}"
        changes += _content(where, old_res[status], new_res[status], "response", docs)
    return changes


def _parameters(key: str, old: list[Any], new: list[Any], docs: _Docs) -> list[Change]:
    def by_name(params: list[Any], side: Literal["old", "new"]) -> dict[str, Schema]:
        resolved = [docs.resolve(p, side) for p in params]
        return {f"{p.get('in')} parameter {p.get('name')!r}": p for p in resolved}

    olds, news = by_name(old, "old"), by_name(new, "new")
    changes: list[Change] = []
    for name in sorted(olds.keys() - news.keys()):
        changes.append(Change(True, key, f"{name} removed"))
    for name in sorted(news.keys() - olds.keys()):
        required = bool(news[name].get("required"))
        changes.append(
            Change(required, key, f"{'required' if required else 'optional'} {name} added")
        )
    for name in sorted(olds.keys() & news.keys()):
        if news[name].get("required") and not olds[name].get("required"):
            changes.append(Change(True, key, f"{name} became required"))
        changes += _schema(
            f"{key}: {name}", olds[name].get("schema"), news[name].get("schema"), "request", docs
        )
    return changes


def _request_body(key: str, old: Any, new: Any, docs: _Docs) -> list[Change]:
    if old is None and new is None:
        return []
    old_body, new_body = docs.resolve(old or {}, "old"), docs.resolve(new or {}, "new")
    changes: list[Change] = []
    if new_body.get("required") and not old_body.get("required"):
        changes.append(Change(True, key, "request body became required"))
    return changes + _content(f"{key}: request body", old_body, new_body, "request", docs)


def _content(
    where: str, old: Schema, new: Schema, direction: Direction, docs: _Docs
) -> list[Change]:
    old_media = docs.resolve(old, "old").get("content", {})
    new_media = docs.resolve(new, "new").get("content", {})
    changes: list[Change] = []
    for media in sorted(old_media.keys() - new_media.keys()):
        changes.append(Change(True, where, f"content type {media} removed"))
    for media in sorted(new_media.keys() - old_media.keys()):
        # A new request content type is an addition; a new response one a client must read.
        changes.append(Change(direction == "response", where, f"content type {media} added"))
    for media in sorted(old_media.keys() & new_media.keys()):
        changes += _schema(
            f"{where} {media}",
            old_media[media].get("schema"),
            new_media[media].get("schema"),
            direction,
            docs,
        )
    return changes


def _types(schema: Schema, side: Literal["old", "new"], docs: _Docs, depth: int = 0) -> set[str]:
    schema = docs.resolve(schema, side)
    if depth > 8:
        return {"any"}
    if "type" in schema:
        kind = schema["type"]
        found = set(kind) if isinstance(kind, list) else {kind}
        return found | ({"number"} if "integer" in found and "number" in found else set())
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return set().union(*(_types(s, side, docs, depth + 1) for s in schema[combinator]))
    if len(schema.get("allOf", [])) == 1:
        return _types(schema["allOf"][0], side, docs, depth + 1)
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        return {_json_type(v) for v in values}
    return {"any"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "any")


def _enum(schema: Schema) -> set[Any] | None:
    if "const" in schema:
        return {schema["const"]}
    if "enum" in schema:
        return set(schema["enum"])
    return None


def _branches(schema: Schema, side: Literal["old", "new"], docs: _Docs) -> dict[str, Schema]:
    """The alternatives of a union, keyed by model name (or by type when inline)."""
    resolved = docs.resolve(schema, side)
    for combinator in ("anyOf", "oneOf"):
        if combinator in resolved:
            return {_branch_key(s, side, docs): docs.resolve(s, side) for s in resolved[combinator]}
    if len(resolved.get("allOf", [])) == 1:
        return _branches(resolved["allOf"][0], side, docs)
    return {_branch_key(schema, side, docs): resolved}


def _branch_key(schema: Schema, side: Literal["old", "new"], docs: _Docs) -> str:
    if "$ref" in schema:
        return "#" + str(schema["$ref"]).rsplit("/", 1)[-1]
    return ",".join(sorted(_types(schema, side, docs)))


# How each bound narrows: a larger minimum or a smaller maximum accepts fewer values.
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def _schema(
    where: str,
    old: Any,
    new: Any,
    direction: Direction,
    docs: _Docs,
    seen: frozenset[tuple[str, str]] = frozenset(),
) -> list[Change]:
    if old is None or new is None:
        return []
    refs = (str(old.get("$ref", id(old))), str(new.get("$ref", id(new))))
    if refs in seen or len(seen) > 40:
        return []
    seen = seen | {refs}
    # Narrowing what the server accepts breaks senders; widening what it answers breaks readers.
    narrowed_breaks = direction == "request"
    changes: list[Change] = []
    old_types, new_types = _types(old, "old", docs), _types(new, "new", docs)
    if "any" not in old_types and "any" not in new_types:
        if lost := sorted(old_types - new_types):
            changes.append(Change(narrowed_breaks, where, f"type no longer {' or '.join(lost)}"))
        if gained := sorted(new_types - old_types):
            changes.append(
                Change(not narrowed_breaks, where, f"type may now be {' or '.join(gained)}")
            )
    elif "any" in old_types and "any" not in new_types:
        changes.append(Change(narrowed_breaks, where, f"type narrowed to {sorted(new_types)}"))
    old_branches, new_branches = _branches(old, "old", docs), _branches(new, "new", docs)
    if len(old_branches) == 1 and len(new_branches) == 1:
        # One schema on each side (perhaps renamed): compare them whatever their names.
        old_branches = {"": next(iter(old_branches.values()))}
        new_branches = {"": next(iter(new_branches.values()))}
    unmatched_new = {k: new_branches[k] for k in new_branches.keys() - old_branches.keys()}
    for key in sorted(old_branches.keys() - new_branches.keys()):
        # A model renamed or inlined: pair it with an unmatched alternative of the same type.
        signature = _types(old_branches[key], "old", docs)
        twin = next(
            (k for k, v in sorted(unmatched_new.items()) if _types(v, "new", docs) == signature),
            None,
        )
        if twin is not None:
            changes += _one(
                where, old_branches[key], unmatched_new.pop(twin), direction, docs, seen
            )
        elif key.startswith("#"):
            changes.append(Change(narrowed_breaks, where, f"alternative {key[1:]} removed"))
    for key in sorted(unmatched_new):
        if key.startswith("#"):
            changes.append(Change(not narrowed_breaks, where, f"alternative {key[1:]} added"))
    for key in sorted(old_branches.keys() & new_branches.keys()):
        changes += _one(where, old_branches[key], new_branches[key], direction, docs, seen)
    return changes


def _one(
    where: str,
    old: Schema,
    new: Schema,
    direction: Direction,
    docs: _Docs,
    seen: frozenset[tuple[str, str]],
) -> list[Change]:
    narrowed_breaks = direction == "request"
    changes: list[Change] = []
    old_enum, new_enum = _enum(old), _enum(new)
    if old_enum is not None and new_enum is not None:
        if lost := old_enum - new_enum:
            changes.append(Change(narrowed_breaks, where, f"enum lost {sorted(map(str, lost))}"))
        if gained := new_enum - old_enum:
            changes.append(
                Change(not narrowed_breaks, where, f"enum gained {sorted(map(str, gained))}")
            )
    elif old_enum is None and new_enum is not None:
        changes.append(
            Change(narrowed_breaks, where, f"restricted to {sorted(map(str, new_enum))}")
        )
    for bound in (*_LOWER, *_UPPER):
        before, after = old.get(bound), new.get(bound)
        if before == after or not isinstance(after, int | float):
            continue
        tighter = before is None or (after > before if bound in _LOWER else after < before)
        if direction == "request" and tighter:
            changes.append(Change(True, where, f"{bound} tightened from {before} to {after}"))
    changes += _properties(where, old, new, direction, docs, seen)
    if "items" in old and "items" in new:
        changes += _schema(f"{where}[]", old["items"], new["items"], direction, docs, seen)
    if isinstance(old.get("additionalProperties"), dict) and isinstance(
        new.get("additionalProperties"), dict
    ):
        changes += _schema(
            f"{where}{{*}}",
            old["additionalProperties"],
            new["additionalProperties"],
            direction,
            docs,
            seen,
        )
    return changes


def _properties(
    where: str,
    old: Schema,
    new: Schema,
    direction: Direction,
    docs: _Docs,
    seen: frozenset[tuple[str, str]],
) -> list[Change]:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    changes: list[Change] = []
    for name in sorted(old_props.keys() - new_props.keys()):
        changes.append(Change(True, where, f"field {name!r} removed"))
    for name in sorted(new_props.keys() - old_props.keys()):
        required = name in new_required
        if direction == "request":
            label = "required" if required else "optional"
            changes.append(Change(required, where, f"{label} field {name!r} added"))
        else:
            changes.append(Change(False, where, f"field {name!r} added"))
    for name in sorted(old_props.keys() & new_props.keys()):
        if direction == "request" and name in new_required - old_required:
            changes.append(Change(True, where, f"field {name!r} became required"))
        if direction == "response" and name in old_required - new_required:
            changes.append(Change(True, where, f"field {name!r} may now be missing"))
        changes += _schema(
            f"{where}.{name}", old_props[name], new_props[name], direction, docs, seen
        )
    return changes
