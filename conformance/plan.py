"""Turn `terraform show -json` plan output into facts.

Values known at plan time are taken as they are. A value known only after apply becomes a :class:`Ref` to the
resource its expression refers to, traced through module variables and outputs using the plan's ``configuration``
block, so that relations (which route table a subnet uses, which KMS key encrypts a database) can be checked before
anything exists. What cannot be traced stays :class:`Unknown` and never compares equal to anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.facts import Ref, Resource, Unknown
from conformance.outcomes import CheckError

SUPPORTED_FORMAT_MAJOR = "1"

# "aws_subnet.public", 'aws_subnet.public["us-east-1a"]', "aws_subnet.public[0].id", "data.x.y.json"
_REFERENCE = re.compile(
    r'^(?P<base>(?:data\.)?[a-zA-Z_][\w-]*\.[a-zA-Z_][\w-]*)(?:\[(?P<index>"[^"]*"|\d+)\])?(?:\.(?P<attr>[\w]+))?'
)
_SKIPPED_PREFIXES = ("each.", "count.", "path.", "local.", "terraform.", "self.")


def load_plan(path: Path) -> dict[str, Any]:
    """Read a plan JSON file, refusing what this engine cannot read with a clear message."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckError(f"{path}: plan file not found") from exc
    except json.JSONDecodeError as exc:
        raise CheckError(
            f"{path}: not JSON ({exc.msg} at line {exc.lineno}); expected the output of `terraform show -json <plan>`"
        ) from exc
    return validate_plan(data, str(path))


def validate_plan(data: Any, origin: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise CheckError(f"{origin}: expected a JSON object from `terraform show -json`, found {type(data).__name__}")
    version = str(data.get("format_version", ""))
    if version.split(".")[0] != SUPPORTED_FORMAT_MAJOR:
        raise CheckError(
            f"{origin}: format_version expected 1.x (any Terraform whose plan JSON format major is 1), "
            f"found {version or 'none'}"
        )
    if "resource_changes" not in data and "planned_values" not in data:
        raise CheckError(
            f"{origin}: no resource_changes or planned_values; expected a plan, found "
            f"{'a state file' if 'values' in data else 'something else'} (use `terraform show -json <planfile>`)"
        )
    return data


@dataclass(frozen=True)
class _Instance:
    address: str
    module: str  # "" for the root module, else "module.vpc" (instance keys of modules are dropped)
    base: str  # "aws_subnet.public" or "data.aws_iam_policy_document.x"
    index: Any


def _module_path(module_address: str | None) -> str:
    # module.vpc["x"].module.sub -> module.vpc.module.sub: module instances share one configuration.
    return re.sub(r"\[[^\]]*\]", "", module_address or "")


def _format_index(index: Any) -> str:
    if index is None:
        return ""
    return f"[{json.dumps(index)}]"


class _PlanGraph:
    """The plan's configuration, indexed for reference tracing."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.modules: dict[str, Mapping[str, Any]] = {}
        self.parents: dict[str, tuple[str, Mapping[str, Any]]] = {}
        self._index_modules("", plan.get("configuration", {}).get("root_module", {}))
        self.instances: dict[tuple[str, str], list[_Instance]] = {}
        self.index_of: dict[str, Any] = {}
        for change in plan.get("resource_changes", []):
            module = _module_path(change.get("module_address"))
            prefix = "data." if change.get("mode") == "data" else ""
            base = f"{prefix}{change['type']}.{change['name']}"
            instance = _Instance(change["address"], module, base, change.get("index"))
            self.instances.setdefault((module, base), []).append(instance)
            self.index_of[change["address"]] = change.get("index")

    def _index_modules(self, path: str, module: Mapping[str, Any]) -> None:
        self.modules[path] = module
        for name, call in module.get("module_calls", {}).items():
            child = f"{path}.module.{name}" if path else f"module.{name}"
            self.parents[child] = (path, call)
            self._index_modules(child, call.get("module", {}))

    def resource_config(self, module: str, base: str) -> Mapping[str, Any]:
        address = base  # configuration addresses are module-relative: "aws_subnet.public"
        for resource in self.modules.get(module, {}).get("resources", []):
            if resource.get("address") == address:
                return dict(resource)
        return {}

    def trace(
        self,
        module: str,
        references: Iterable[str],
        own_index: Any,
        depth: int = 0,
        for_each_refs: list[str] | None = None,
    ) -> list[tuple[str, str]]:
        """Resolve an expression's references to (resource address, attribute) pairs."""
        if depth > 12:  # module graphs are shallow; this only guards against a cycle
            return []
        refs = list(references)
        if for_each_refs:
            # `for_each = aws_subnet.public` + `each.value.id`: each.value is the same-key instance of that resource.
            for ref in [r for r in refs if r == "each.value" or r.startswith("each.value.")]:
                attr = ref.removeprefix("each.value").lstrip(".").split(".")[0]
                for base in for_each_refs:
                    if _REFERENCE.match(base) and own_index is not None:
                        refs.append(f"{base}[{json.dumps(own_index)}]" + (f".{attr}" if attr else ""))
        uses_own_index = any(r in ("each.key", "count.index") for r in refs)
        explicit: dict[str, list[tuple[Any, str]]] = {}
        results: list[tuple[str, str]] = []
        for ref in refs:
            if ref.startswith(_SKIPPED_PREFIXES):
                continue
            if ref.startswith("var."):
                results += self._trace_variable(module, ref.split(".")[1], depth)
                continue
            if ref.startswith("module."):
                if any(other != ref and other.startswith((ref + "[", ref + ".")) for other in refs):
                    continue  # Terraform lists a reference's prefixes too; the longest one is the precise one
                parts = ref.split(".")
                if len(parts) >= 3:
                    results += self._trace_indexed_output(module, re.sub(r"\[.*$", "", parts[1]), parts[2], depth)
                continue
            match = _REFERENCE.match(ref)
            if match:
                index = json.loads(match["index"]) if match["index"] else None
                explicit.setdefault(match["base"], []).append((index, match["attr"] or ""))
        for base, uses in explicit.items():
            instances = self.instances.get((module, base), [])
            indexed = [(i, a) for i, a in uses if i is not None]
            attr = next((a for _, a in uses if a), "")
            if indexed:
                chosen = [inst for inst in instances if any(inst.index == i for i, _ in indexed)]
            elif uses_own_index and any(inst.index == own_index for inst in instances):
                chosen = [inst for inst in instances if inst.index == own_index]
            else:
                chosen = instances
            results += [(inst.address, attr or "") for inst in chosen]
        return list(dict.fromkeys(results))

    def _trace_variable(self, module: str, name: str, depth: int) -> list[tuple[str, str]]:
        if module not in self.parents:
            return []  # a root variable: its value is known, nothing to trace
        parent, call = self.parents[module]
        expression = call.get("expressions", {}).get(name, {})
        return self.trace(parent, expression.get("references", []), None, depth + 1)

    def _trace_indexed_output(self, module: str, call_name: str, output: str, depth: int) -> list[tuple[str, str]]:
        """``module.kms.key_arns["rds"]``: an output map keyed like its resource's for_each gives that instance."""
        match = re.fullmatch(r'(?P<name>[\w-]+)(?:\[(?P<key>"[^"]*"|\d+)\])?', output)
        if match is None:
            return []
        traced = self._trace_output(module, call_name, match["name"], depth)
        if match["key"] is None:
            return traced
        key = json.loads(match["key"])
        narrowed = [(address, attr) for address, attr in traced if self.index_of.get(address) == key]
        return narrowed or traced  # keys that are not instance keys (a computed map) keep every candidate

    def _trace_output(self, module: str, call_name: str, output: str, depth: int) -> list[tuple[str, str]]:
        child = f"{module}.module.{call_name}" if module else f"module.{call_name}"
        expression = self.modules.get(child, {}).get("outputs", {}).get(output, {}).get("expression", {})
        return self.trace(child, expression.get("references", []), None, depth + 1)


def _guess_attribute(argument: str) -> str:
    # A bare reference ("aws_kms_key.rds" with the traversal dropped) names no attribute: infer it from the argument.
    return "arn" if argument.endswith(("arn", "arns")) else "id"


def _fill_unknowns(
    graph: _PlanGraph,
    instance: _Instance,
    known: Any,
    unknown: Any,
    expressions: Any,
    path: str,
    argument: str,
    for_each_refs: list[str],
) -> Any:
    """Merge a change's `after` with `after_unknown`, turning unknown leaves into references where traceable."""
    if unknown is True:
        refs = expressions.get("references", []) if isinstance(expressions, Mapping) else []
        targets = graph.trace(instance.module, refs, instance.index, for_each_refs=for_each_refs)
        values = [Ref(addr, attr or _guess_attribute(argument)) for addr, attr in targets]
        if len(values) == 1:
            return values[0]
        if values:
            return values
        if "." not in path:
            return Ref(instance.address, path)  # a computed attribute of the resource itself (its id, its arn)
        return Unknown(instance.address, path)
    if isinstance(unknown, Mapping):
        merged = dict(known) if isinstance(known, Mapping) else {}
        # A map-typed argument has one expression for the whole map; nested blocks have one per attribute.
        is_leaf = isinstance(expressions, Mapping) and ("references" in expressions or "constant_value" in expressions)
        for key, sub_unknown in unknown.items():
            if is_leaf:
                sub_expr = expressions
            else:
                sub_expr = expressions.get(key, {}) if isinstance(expressions, Mapping) else {}
            merged[key] = _fill_unknowns(
                graph,
                instance,
                merged.get(key),
                sub_unknown,
                sub_expr,
                f"{path}.{key}" if path else key,
                key,
                for_each_refs,
            )
        return merged
    if isinstance(unknown, list):
        leaf = isinstance(expressions, Mapping) and "references" in expressions
        if leaf and unknown and all(item is True for item in unknown):
            # A whole list from one expression ([for s in aws_subnet.x : s.id]): one reference per element.
            targets = graph.trace(
                instance.module, expressions["references"], instance.index, for_each_refs=for_each_refs
            )
            if len(targets) == len(unknown):
                return [Ref(addr, attr or _guess_attribute(argument)) for addr, attr in targets]
        known_list = list(known) if isinstance(known, list) else []
        known_list += [None] * (len(unknown) - len(known_list))
        out = []
        for position, (item, sub_unknown) in enumerate(zip(known_list, unknown, strict=False)):
            # Nested blocks appear in configuration as a list with one expression map per written block.
            if isinstance(expressions, list) and expressions:
                sub_expr = expressions[min(position, len(expressions) - 1)]
            else:
                sub_expr = expressions
            out.append(
                _fill_unknowns(
                    graph,
                    instance,
                    item,
                    sub_unknown,
                    sub_expr,
                    f"{path}.{position}",
                    argument,
                    for_each_refs,
                )
            )
        return out
    return known


def plan_resources(plan: Mapping[str, Any], include_data: bool = True) -> list[Resource]:
    """Every resource the plan would create or keep, with unknown values traced to references."""
    graph = _PlanGraph(plan)
    resources: list[Resource] = []
    for change in plan.get("resource_changes", []):
        actions = change.get("change", {}).get("actions", [])
        if actions == ["delete"] or (change.get("mode") == "data" and not include_data):
            continue
        module = _module_path(change.get("module_address"))
        prefix = "data." if change.get("mode") == "data" else ""
        base = f"{prefix}{change['type']}.{change['name']}"
        instance = _Instance(change["address"], module, base, change.get("index"))
        config = graph.resource_config(module, base)
        expressions = config.get("expressions", {})
        for_each_refs = config.get("for_each_expression", {}).get("references", [])
        after = change["change"].get("after") or {}
        unknown = change["change"].get("after_unknown") or {}
        values = _fill_unknowns(graph, instance, after, unknown, expressions, "", "", for_each_refs)
        if "id" not in values or values["id"] is None:
            values["id"] = Ref(change["address"], "id")
        resource_type = f"{prefix}{change['type']}"
        resources.append(Resource(type=resource_type, address=change["address"], values=values))
    return resources


def plan_variables(plan: Mapping[str, Any]) -> dict[str, Any]:
    return {name: spec.get("value") for name, spec in plan.get("variables", {}).items()}
