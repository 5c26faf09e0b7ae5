"""Service credentials through Secrets Manager, as External Secrets provides them in the cluster.

``up`` stores every service's secrets in the emulator under ``eks-shop/<env>/<service>/<name>`` (tag
``Service=<service>``, docs/conventions.md), then reads them back through the same API and writes each into
the service's own ``SHOP_SECRETS_DIR`` (one file per secret, 0600, folder 0700): the services see exactly
what an ExternalSecret would mount, and never read another service's secrets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import boto3

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(endpoint: str) -> Any:
    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1", **FAKE_CREDENTIALS)


def secret_id(env: str, service: str, name: str) -> str:
    return f"eks-shop/{env}/{service}/{name}"


def store(endpoint: str, env: str, values: dict[str, dict[str, str]]) -> int:
    sm = client(endpoint)
    count = 0
    for service, secrets in values.items():
        for name, value in secrets.items():
            sid = secret_id(env, service, name)
            try:
                sm.create_secret(Name=sid, SecretString=value, Tags=[{"Key": "Service", "Value": service}])
            except sm.exceptions.ResourceExistsException:
                sm.put_secret_value(SecretId=sid, SecretString=value)
            count += 1
    return count


def materialise(endpoint: str, env: str, service: str, directory: Path) -> list[str]:
    """Read ``eks-shop/<env>/<service>/*`` back and write one file per secret into ``directory``."""
    sm = client(endpoint)
    prefix = secret_id(env, service, "")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    written: list[str] = []
    paginator = sm.get_paginator("list_secrets")
    for page in paginator.paginate(Filters=[{"Key": "name", "Values": [prefix]}]):
        for entry in page["SecretList"]:
            sid: str = entry["Name"]
            if not sid.startswith(prefix):
                continue
            name = sid[len(prefix) :]
            value = sm.get_secret_value(SecretId=sid)["SecretString"]
            path = directory / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(value)
            written.append(name)
    return sorted(written)
