"""Users over gRPC on a real PostgreSQL: tenants, registration, sign-in, tokens, JWKS, rotation, isolation."""

from __future__ import annotations

import statistics
import time
import uuid

import grpc
import jwt
import psycopg
import pytest

from services.common.server import ShopServer
from services.protos.gen.shop.users.v1 import users_pb2 as pb
from services.protos.gen.shop.users.v1 import users_pb2_grpc
from services.users.tokens import AUDIENCE, ISSUER
from tests.services.users.users_support import UsersDb, md

Stub = users_pb2_grpc.UsersServiceStub
PASSWORD = "correct horse battery"


def _err(fn, *args, **kwargs) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, timeout=20, **kwargs)
    return info.value


def _tenant(stub: Stub) -> str:
    tenant = f"s-{uuid.uuid4().hex[:10]}"
    stub.CreateTenant(
        pb.CreateTenantRequest(
            tenant_id=tenant, display_name="Shop", admin_email=f"admin@{tenant}.test", admin_password=PASSWORD
        ),
        metadata=md(None, admin=True),
        timeout=20,
    )
    return tenant


def _register(stub: Stub, tenant: str, email: str = "ann@example.com", timeout: float = 20) -> pb.AuthResponse:
    return stub.Register(
        pb.RegisterRequest(email=email, password=PASSWORD, display_name="Ann"), metadata=md(tenant), timeout=timeout
    )


def _verify_with_jwks(stub: Stub, token: str) -> dict[str, object]:
    jwks = jwt.PyJWKSet.from_json(stub.GetJwks(pb.GetJwksRequest(), timeout=10).jwks_json)
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims: dict[str, object] = jwt.decode(token, key.key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)
    return claims


def test_create_tenant_is_admin_only_and_validated(users_stub: Stub) -> None:
    req = pb.CreateTenantRequest(
        tenant_id="new-shop", display_name="New", admin_email="a@b.co", admin_password=PASSWORD
    )
    assert _err(users_stub.CreateTenant, req).code() == grpc.StatusCode.UNAUTHENTICATED
    bad = pb.CreateTenantRequest(tenant_id="Bad_Id", display_name="x", admin_email="a@b.co", admin_password=PASSWORD)
    e = _err(users_stub.CreateTenant, bad, metadata=md(None, admin=True))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tenant_id" in e.details()
    tenant = _tenant(users_stub)
    dup = pb.CreateTenantRequest(tenant_id=tenant, display_name="x", admin_email="a@b.co", admin_password=PASSWORD)
    assert _err(users_stub.CreateTenant, dup, metadata=md(None, admin=True)).code() == grpc.StatusCode.ALREADY_EXISTS
    signed = users_stub.SignIn(
        pb.SignInRequest(email=f"admin@{tenant}.test", password=PASSWORD), metadata=md(tenant), timeout=20
    )
    assert signed.user.role == "admin"


def test_same_email_in_two_tenants_and_bad_registrations(users_stub: Stub) -> None:
    t1, t2 = _tenant(users_stub), _tenant(users_stub)
    a = _register(users_stub, t1)
    b = _register(users_stub, t2)
    assert a.user.id != b.user.id
    assert (a.user.tenant_id, b.user.tenant_id) == (t1, t2)
    assert _err(_register, users_stub, t1).code() == grpc.StatusCode.ALREADY_EXISTS
    e = _err(users_stub.Register, pb.RegisterRequest(email="not-an-email", password=PASSWORD), metadata=md(t1))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "email" in e.details()
    e = _err(users_stub.Register, pb.RegisterRequest(email="x@y.co", password="short"), metadata=md(t1))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "password" in e.details()
    assert _err(_register, users_stub, "no-such-shop").code() == grpc.StatusCode.NOT_FOUND


def test_sign_in_failures_look_the_same_and_get_throttled(users_stub: Stub) -> None:
    tenant = _tenant(users_stub)
    _register(users_stub, tenant, "bob@example.com")

    def attempt(email: str, password: str, client: str) -> tuple[grpc.StatusCode, str, float]:
        start = time.perf_counter()
        e = _err(
            users_stub.SignIn, pb.SignInRequest(email=email, password=password, client_id=client), metadata=md(tenant)
        )
        return e.code(), e.details(), time.perf_counter() - start

    unknown = [attempt(f"nobody{i}@example.com", "wrong password!", f"c{i}") for i in range(4)]
    wrong = [attempt("bob@example.com", f"wrong password {i}", f"d{i}") for i in range(4)]
    assert {(c, d) for c, d, _ in unknown} == {(c, d) for c, d, _ in wrong}
    assert unknown[0][0] == grpc.StatusCode.UNAUTHENTICATED
    ratio = statistics.median(t for *_, t in unknown) / statistics.median(t for *_, t in wrong)
    assert 0.5 < ratio < 2.0, ratio
    # fifth failure for bob, then even the right password is throttled; another account is not
    attempt("bob@example.com", "wrong again!!", "e")
    e = _err(users_stub.SignIn, pb.SignInRequest(email="bob@example.com", password=PASSWORD), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    _register(users_stub, tenant, "carol@example.com")
    ok = users_stub.SignIn(
        pb.SignInRequest(email="carol@example.com", password=PASSWORD), metadata=md(tenant), timeout=20
    )
    assert ok.tokens.access_token


def test_access_token_verifies_with_jwks_and_gives_profile(users_stub: Stub) -> None:
    tenant = _tenant(users_stub)
    auth = _register(users_stub, tenant)
    claims = _verify_with_jwks(users_stub, auth.tokens.access_token)
    assert claims["sub"] == auth.user.id
    assert claims["tenant"] == tenant
    assert int(claims["exp"]) - int(claims["iat"]) == 900  # type: ignore[call-overload]
    profile = users_stub.GetProfile(
        pb.GetProfileRequest(), metadata=md(tenant, bearer=auth.tokens.access_token), timeout=10
    )
    assert profile.email == "ann@example.com"
    updated = users_stub.UpdateProfile(
        pb.UpdateProfileRequest(display_name="Annie"), metadata=md(tenant, bearer=auth.tokens.access_token), timeout=10
    )
    assert updated.display_name == "Annie"
    assert _err(users_stub.GetProfile, pb.GetProfileRequest(), metadata=md(tenant)).code() == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    tampered = auth.tokens.access_token[:-4] + ("AAAA" if not auth.tokens.access_token.endswith("AAAA") else "BBBB")
    assert _err(users_stub.GetProfile, pb.GetProfileRequest(), metadata=md(tenant, bearer=tampered)).code() == (
        grpc.StatusCode.UNAUTHENTICATED
    )


def test_rotated_key_still_verifies_during_overlap(
    users_stub: Stub, users_server: ShopServer, users_db: UsersDb
) -> None:
    tenant = _tenant(users_stub)
    old = _register(users_stub, tenant).tokens.access_token
    keys = users_server.users.tokens.keys  # type: ignore[attr-defined]
    keys.ensure_current(force_rotate=True)
    new = users_stub.SignIn(
        pb.SignInRequest(email="ann@example.com", password=PASSWORD), metadata=md(tenant), timeout=20
    ).tokens.access_token
    old_kid, new_kid = jwt.get_unverified_header(old)["kid"], jwt.get_unverified_header(new)["kid"]
    assert old_kid != new_kid
    kids = {k.kid for k in users_stub.GetJwks(pb.GetJwksRequest(), timeout=10).keys}
    assert {old_kid, new_kid} <= kids
    assert _verify_with_jwks(users_stub, old)["tenant"] == tenant
    users_stub.GetProfile(pb.GetProfileRequest(), metadata=md(tenant, bearer=old), timeout=10)
    # once the overlap window has passed the old key leaves the set and its tokens are refused
    with psycopg.connect(users_db.admin_url) as conn:
        conn.execute("UPDATE signing_keys SET expires_at = now() - interval '1 second' WHERE kid = %s", [old_kid])
    keys.refresh_if_stale(max_age_seconds=0)
    assert old_kid not in {k.kid for k in users_stub.GetJwks(pb.GetJwksRequest(), timeout=10).keys}
    e = _err(users_stub.GetProfile, pb.GetProfileRequest(), metadata=md(tenant, bearer=old))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    users_stub.GetProfile(pb.GetProfileRequest(), metadata=md(tenant, bearer=new), timeout=10)


def test_refresh_rotates_and_revoked_or_reused_tokens_are_refused(users_stub: Stub) -> None:
    tenant = _tenant(users_stub)
    first = _register(users_stub, tenant).tokens.refresh_token
    second = users_stub.Refresh(pb.RefreshRequest(refresh_token=first), metadata=md(tenant), timeout=10)
    assert second.tokens.refresh_token != first
    # reuse of the consumed token: refused, and the whole family (including `second`) is revoked
    assert _err(users_stub.Refresh, pb.RefreshRequest(refresh_token=first), metadata=md(tenant)).code() == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    e = _err(users_stub.Refresh, pb.RefreshRequest(refresh_token=second.tokens.refresh_token), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    # explicit revocation (sign-out)
    fresh = users_stub.SignIn(
        pb.SignInRequest(email="ann@example.com", password=PASSWORD), metadata=md(tenant), timeout=20
    ).tokens.refresh_token
    users_stub.RevokeRefreshToken(pb.RevokeRefreshTokenRequest(refresh_token=fresh), metadata=md(tenant), timeout=10)
    e = _err(users_stub.Refresh, pb.RefreshRequest(refresh_token=fresh), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in e.details()


def test_tenant_a_cannot_use_or_see_tenant_b_users(users_stub: Stub, users_db: UsersDb) -> None:
    a, b = _tenant(users_stub), _tenant(users_stub)
    bob = users_stub.Register(pb.RegisterRequest(email="bob@b.example", password=PASSWORD), metadata=md(b), timeout=20)
    # B's access token and refresh token are worthless under tenant A
    e = _err(users_stub.GetProfile, pb.GetProfileRequest(), metadata=md(a, bearer=bob.tokens.access_token))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    e = _err(
        users_stub.UpdateProfile,
        pb.UpdateProfileRequest(display_name="pwned"),
        metadata=md(a, bearer=bob.tokens.access_token),
    )
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    e = _err(users_stub.Refresh, pb.RefreshRequest(refresh_token=bob.tokens.refresh_token), metadata=md(a))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    users_stub.RevokeRefreshToken(
        pb.RevokeRefreshTokenRequest(refresh_token=bob.tokens.refresh_token), metadata=md(a), timeout=10
    )  # no effect on B's token
    users_stub.Refresh(pb.RefreshRequest(refresh_token=bob.tokens.refresh_token), metadata=md(b), timeout=10)
    e = _err(users_stub.SignIn, pb.SignInRequest(email="bob@b.example", password=PASSWORD), metadata=md(a))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    # in the database: the app role with tenant A set sees none of B's rows
    with psycopg.connect(users_db.app_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", [a])
        assert conn.execute("SELECT count(*) FROM users WHERE id = %s", [bob.user.id]).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM tenants WHERE id = %s", [b]).fetchone() == (0,)
        assert conn.execute("UPDATE users SET role = 'admin' WHERE id = %s", [bob.user.id]).rowcount == 0
        assert conn.execute("SELECT count(*) FROM refresh_tokens").fetchone() == (0,)
