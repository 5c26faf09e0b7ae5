"""What every collector shares: the clients, the scope of one environment, Terraform-shaped helpers.

Collectors only ever *read* (Describe*/List*/Get*): the same code runs against the emulator and a real account.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from conformance.facts import Resource

PROJECT = "eks-shop"


@dataclass
class CollectContext:
    """The account, region and environment to read; ``endpoint`` is the emulator's URL (None: real AWS)."""

    session: boto3.session.Session
    region: str
    environment: str
    endpoint: str | None = None
    cluster_name: str | None = None
    project: str = PROJECT
    _clients: dict[str, BaseClient] = field(default_factory=dict)
    # Hooks run on every client created (the read-only test records operation names with one).
    client_hooks: list[Callable[[BaseClient], None]] = field(default_factory=list)

    def client(self, service: str) -> BaseClient:
        if service not in self._clients:
            config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)
            kwargs: dict[str, Any] = {"region_name": self.region, "config": config}
            if self.endpoint:
                kwargs["endpoint_url"] = self.endpoint
            client = self.session.client(service, **kwargs)
            for hook in self.client_hooks:
                hook(client)
            self._clients[service] = client
        return self._clients[service]

    def in_scope(self, tags: Mapping[str, str]) -> bool:
        """A resource belongs to this environment when it carries the platform's default tags."""
        return tags.get("Project") == self.project and tags.get("Environment") == self.environment


def tag_dict(tags: Iterable[Mapping[str, Any]] | Mapping[str, str] | None) -> dict[str, str]:
    """AWS tag lists ([{Key, Value}] or [{key, value}]) or maps, as the plain map Terraform shows."""
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    out = {}
    for tag in tags:
        key = tag.get("Key", tag.get("key", tag.get("TagKey")))
        value = tag.get("Value", tag.get("value", tag.get("TagValue", "")))
        if key is not None:
            out[str(key)] = str(value)
    return out


def with_tags(values: dict[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    # A live read cannot tell default_tags from resource tags: both maps carry everything the resource has.
    values["tags"] = dict(tags)
    values["tags_all"] = dict(tags)
    return values


def label(resource_type: str, values: Mapping[str, Any], *keys: str) -> str:
    """An address a person recognises: ``aws_subnet eks-shop-dev-app-us-east-1a`` (Name tag, name, ARN or id)."""
    tags = values.get("tags") or {}
    for candidate in (tags.get("Name"), *(values.get(k) for k in keys), values.get("arn"), values.get("id")):
        if candidate:
            return f"{resource_type} {candidate}"
    return resource_type


def resource(resource_type: str, values: dict[str, Any], *keys: str) -> Resource:
    return Resource(type=resource_type, address=label(resource_type, values, *keys), values=values)


def policy_json(document: Any) -> str | None:
    """A policy as Terraform shows it: a JSON string (IAM returns documents URL-encoded, boto3 sometimes decoded)."""
    if document is None:
        return None
    if isinstance(document, Mapping):
        return json.dumps(document, sort_keys=True)
    text = str(document)
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    return text


def paginate(client: BaseClient, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
