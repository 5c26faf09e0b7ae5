"""Users persistence. Each method is one tenant-scoped transaction: RLS confines it to that tenant's rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from services.common import errors
from services.common.pg import Database


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    tenant_id: str
    email: str
    display_name: str
    role: str
    created_at: datetime
    password_hash: str


@dataclass(frozen=True)
class TenantRow:
    id: str
    display_name: str
    created_at: datetime


# `noqa: S608`: f-strings splice only this constant column list; request values are bound parameters.
_USER_COLUMNS = "id, tenant_id, email, display_name, role, created_at, password_hash"


def _user(row: dict[str, Any]) -> UserRow:
    return UserRow(**{k: row[k] for k in UserRow.__dataclass_fields__})


class UsersRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_tenant(
        self, tenant_id: str, display_name: str, admin_email: str, admin_hash: str
    ) -> tuple[TenantRow, UserRow]:
        with self.db.tenant_tx(tenant_id) as conn:
            row = conn.execute(
                "INSERT INTO tenants (id, display_name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING "
                "RETURNING id, display_name, created_at",
                [tenant_id, display_name],
            ).fetchone()
            if row is None:
                raise errors.AlreadyExists(f"tenant_id: tenant {tenant_id!r} already exists")
            user = conn.execute(
                f"INSERT INTO users (email, password_hash, display_name, role) VALUES (%s, %s, %s, 'admin') "  # noqa: S608
                f"RETURNING {_USER_COLUMNS}",
                [admin_email, admin_hash, "Administrator"],
            ).fetchone()
            assert user is not None
            return TenantRow(**row), _user(user)

    def tenant_exists(self, tenant_id: str) -> bool:
        with self.db.tenant_tx(tenant_id) as conn:
            return conn.execute("SELECT 1 FROM tenants WHERE id = %s", [tenant_id]).fetchone() is not None

    def create_user(self, tenant_id: str, email: str, password_hash: str, display_name: str) -> UserRow:
        with self.db.tenant_tx(tenant_id) as conn:
            if conn.execute("SELECT 1 FROM tenants WHERE id = %s", [tenant_id]).fetchone() is None:
                raise errors.NotFound(f"x-tenant-id: tenant {tenant_id!r} does not exist")
            try:
                with conn.transaction():
                    row = conn.execute(
                        f"INSERT INTO users (email, password_hash, display_name) VALUES (%s, %s, %s) "  # noqa: S608
                        f"RETURNING {_USER_COLUMNS}",
                        [email, password_hash, display_name],
                    ).fetchone()
            except psycopg.errors.UniqueViolation:
                raise errors.AlreadyExists("email: already registered in this store") from None
            assert row is not None
            return _user(row)

    def find_by_email(self, tenant_id: str, email: str) -> UserRow | None:
        with self.db.tenant_tx(tenant_id) as conn:
            row = conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE email = %s", [email]).fetchone()  # noqa: S608
        return _user(row) if row else None

    def get_user(self, tenant_id: str, user_id: uuid.UUID) -> UserRow:
        with self.db.tenant_tx(tenant_id) as conn:
            row = conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", [user_id]).fetchone()  # noqa: S608
        if row is None:
            raise errors.NotFound(f"user {user_id} not found")
        return _user(row)

    def update_profile(self, tenant_id: str, user_id: uuid.UUID, display_name: str | None) -> UserRow:
        with self.db.tenant_tx(tenant_id) as conn:
            row = conn.execute(
                f"UPDATE users SET display_name = coalesce(%s, display_name), updated_at = now() WHERE id = %s "  # noqa: S608
                f"RETURNING {_USER_COLUMNS}",
                [display_name, user_id],
            ).fetchone()
        if row is None:
            raise errors.NotFound(f"user {user_id} not found")
        return _user(row)

    def rehash_password(self, tenant_id: str, user_id: uuid.UUID, new_hash: str) -> None:
        with self.db.tenant_tx(tenant_id) as conn:
            conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", [new_hash, user_id])

    # -- refresh tokens ------------------------------------------------------------------------------------

    def store_refresh(
        self, tenant_id: str, user_id: uuid.UUID, family_id: uuid.UUID, token_hash: bytes, ttl_seconds: int
    ) -> datetime:
        with self.db.tenant_tx(tenant_id) as conn:
            row = conn.execute(
                "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) "
                "VALUES (%s, %s, %s, now() + make_interval(secs => %s)) RETURNING expires_at",
                [user_id, family_id, token_hash, ttl_seconds],
            ).fetchone()
        assert row is not None
        expires: datetime = row["expires_at"]
        return expires

    def rotate_refresh(
        self, tenant_id: str, old_hash: bytes, new_hash: bytes, ttl_seconds: int
    ) -> tuple[UserRow, datetime]:
        """Consume ``old_hash`` and store ``new_hash`` in the same family. Reuse of a consumed token revokes
        the whole family (it was probably stolen) and fails, as do revoked, expired and unknown tokens."""
        refused = errors.Unauthenticated("refresh token is invalid, expired or revoked")
        expires: dict[str, Any] | None = None
        user: dict[str, Any] | None = None
        with self.db.tenant_tx(tenant_id) as conn:
            row = conn.execute(
                "SELECT id, user_id, family_id, consumed_at, revoked_at, expires_at < now() AS expired "
                "FROM refresh_tokens WHERE token_hash = %s FOR UPDATE",
                [old_hash],
            ).fetchone()
            if row is None or row["revoked_at"] is not None or row["expired"]:
                raise refused
            if row["consumed_at"] is not None:
                # Raising here would roll the revocation back, so remember and raise after the commit.
                conn.execute(
                    "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL",
                    [row["family_id"]],
                )
                reuse = True
            else:
                reuse = False
                conn.execute("UPDATE refresh_tokens SET consumed_at = now() WHERE id = %s", [row["id"]])
                expires = conn.execute(
                    "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) "
                    "VALUES (%s, %s, %s, now() + make_interval(secs => %s)) RETURNING expires_at",
                    [row["user_id"], row["family_id"], new_hash, ttl_seconds],
                ).fetchone()
                user = conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", [row["user_id"]]).fetchone()  # noqa: S608
        if reuse:
            raise refused
        assert expires is not None
        assert user is not None
        return _user(user), expires["expires_at"]

    def revoke_refresh(self, tenant_id: str, token_hash: bytes) -> bool:
        """Revoke the token's whole family (sign-out). Unknown tokens are not an error: nothing to revoke."""
        with self.db.tenant_tx(tenant_id) as conn:
            row = conn.execute("SELECT family_id FROM refresh_tokens WHERE token_hash = %s", [token_hash]).fetchone()
            if row is None:
                return False
            conn.execute(
                "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL",
                [row["family_id"]],
            )
            return True
