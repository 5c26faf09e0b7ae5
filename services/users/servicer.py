"""gRPC handlers of the users service."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.common import errors, tenancy
from services.common.auth import require_admin
from services.common.settings import Secrets
from services.protos.gen.shop.users.v1 import users_pb2 as pb
from services.protos.gen.shop.users.v1 import users_pb2_grpc
from services.users.passwords import Passwords
from services.users.repository import UserRow, UsersRepository
from services.users.throttle import SignInThrottle
from services.users.tokens import AccessClaims, TokenService, hash_refresh_token, new_refresh_token

SIGN_IN_FAILED = "e-mail or password is incorrect"
THROTTLED = "too many failed sign-in attempts; try again later"
REFRESH_TTL_SECONDS = 30 * 24 * 3600
TOKEN_TYPE = "Bearer"  # noqa: S105 - the OAuth token type name, not a secret
MIN_PASSWORD, MAX_PASSWORD = 10, 256


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def user_pb(u: UserRow) -> pb.User:
    return pb.User(
        id=str(u.id),
        tenant_id=u.tenant_id,
        email=u.email,
        display_name=u.display_name,
        role=u.role,
        created_at=_ts(u.created_at),
    )


def _password(value: str, field: str) -> str:
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise errors.InvalidArgument(field, f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    return value


class UsersServicer(users_pb2_grpc.UsersServiceServicer):
    def __init__(
        self,
        repo: UsersRepository,
        tokens: TokenService,
        passwords: Passwords,
        secrets: Secrets,
        throttle: SignInThrottle,
    ) -> None:
        self.repo = repo
        self.tokens = tokens
        self.passwords = passwords
        self.secrets = secrets
        self.throttle = throttle

    def _issue(self, user: UserRow, family: uuid.UUID | None = None) -> pb.TokenPair:
        access, access_exp = self.tokens.issue_access(str(user.id), user.tenant_id, user.role)
        refresh, refresh_hash = new_refresh_token()
        refresh_exp = self.repo.store_refresh(
            user.tenant_id, user.id, family or uuid.uuid4(), refresh_hash, REFRESH_TTL_SECONDS
        )
        return pb.TokenPair(
            access_token=access,
            access_expires_at=_ts(access_exp),
            refresh_token=refresh,
            refresh_expires_at=_ts(refresh_exp),
            token_type=TOKEN_TYPE,
        )

    def _caller(self, context: grpc.ServicerContext) -> AccessClaims:
        values = [v for k, v in context.invocation_metadata() if k == "authorization"]
        if not values or not isinstance(values[0], str) or not values[0].startswith("Bearer "):
            raise errors.Unauthenticated("authorization metadata with a Bearer access token is required")
        claims = self.tokens.verify_access(values[0].removeprefix("Bearer ").strip())
        if claims.tenant != tenancy.current_tenant():
            # A token of store B presented to store A: refuse as if it were invalid, it is for another audience.
            raise errors.Unauthenticated("access token is invalid or expired")
        return claims

    # -- RPCs ----------------------------------------------------------------------------------------------

    def CreateTenant(self, request: pb.CreateTenantRequest, context: grpc.ServicerContext) -> pb.CreateTenantResponse:
        require_admin(context, self.secrets)
        if not tenancy.is_valid_tenant_id(request.tenant_id):
            raise errors.InvalidArgument("tenant_id", f"must match {tenancy.TENANT_ID_PATTERN}")
        display = errors.require_text(request.display_name, "display_name", max_len=100)
        email = errors.require_email(request.admin_email, "admin_email")
        password = _password(request.admin_password, "admin_password")
        tenant, admin = self.repo.create_tenant(request.tenant_id, display, email, self.passwords.hash(password))
        return pb.CreateTenantResponse(
            tenant=pb.Tenant(id=tenant.id, display_name=tenant.display_name, created_at=_ts(tenant.created_at)),
            admin_user=user_pb(admin),
        )

    def Register(self, request: pb.RegisterRequest, context: grpc.ServicerContext) -> pb.AuthResponse:
        email = errors.require_email(request.email, "email")
        password = _password(request.password, "password")
        display = errors.require_text(request.display_name, "display_name", max_len=100, min_len=0)
        user = self.repo.create_user(tenancy.current_tenant(), email, self.passwords.hash(password), display)
        return pb.AuthResponse(user=user_pb(user), tokens=self._issue(user))

    def SignIn(self, request: pb.SignInRequest, context: grpc.ServicerContext) -> pb.AuthResponse:
        tenant = tenancy.current_tenant()
        email = request.email.strip().lower()
        # No stored address holds a NUL (registration refuses it), and PostgreSQL could not compare one.
        if (
            not email
            or "\x00" in email
            or not request.password
            or len(request.password) > MAX_PASSWORD
            or len(email) > 254
        ):
            raise errors.Unauthenticated(SIGN_IN_FAILED)
        # Counted before the password is checked, in the database every replica shares (throttle.py).
        attempt = self.throttle.attempt(tenant, email, request.client_id[:100] or context.peer())
        if attempt is None:
            raise errors.ResourceExhausted(THROTTLED)
        user = self.repo.find_by_email(tenant, email)
        # Same work and same answer whether or not the account exists (verify() uses a dummy hash for None).
        if not self.passwords.verify(user.password_hash if user else None, request.password) or user is None:
            raise errors.Unauthenticated(SIGN_IN_FAILED)  # the attempt stays counted: it was a failure
        self.throttle.succeeded(attempt)
        if self.passwords.needs_rehash(user.password_hash):
            self.repo.rehash_password(tenant, user.id, self.passwords.hash(request.password))
        return pb.AuthResponse(user=user_pb(user), tokens=self._issue(user))

    def Refresh(self, request: pb.RefreshRequest, context: grpc.ServicerContext) -> pb.AuthResponse:
        if not request.refresh_token or len(request.refresh_token) > 200:
            raise errors.Unauthenticated("refresh token is invalid, expired or revoked")
        new_token, new_hash = new_refresh_token()
        user, refresh_exp = self.repo.rotate_refresh(
            tenancy.current_tenant(), hash_refresh_token(request.refresh_token), new_hash, REFRESH_TTL_SECONDS
        )
        access, access_exp = self.tokens.issue_access(str(user.id), user.tenant_id, user.role)
        return pb.AuthResponse(
            user=user_pb(user),
            tokens=pb.TokenPair(
                access_token=access,
                access_expires_at=_ts(access_exp),
                refresh_token=new_token,
                refresh_expires_at=_ts(refresh_exp),
                token_type=TOKEN_TYPE,
            ),
        )

    def RevokeRefreshToken(
        self, request: pb.RevokeRefreshTokenRequest, context: grpc.ServicerContext
    ) -> pb.RevokeRefreshTokenResponse:
        if request.refresh_token:
            self.repo.revoke_refresh(tenancy.current_tenant(), hash_refresh_token(request.refresh_token))
        return pb.RevokeRefreshTokenResponse()

    def GetProfile(self, request: pb.GetProfileRequest, context: grpc.ServicerContext) -> pb.User:
        claims = self._caller(context)
        return user_pb(self.repo.get_user(claims.tenant, errors.require_uuid(claims.user_id, "sub")))

    def UpdateProfile(self, request: pb.UpdateProfileRequest, context: grpc.ServicerContext) -> pb.User:
        claims = self._caller(context)
        display = None
        if request.HasField("display_name"):
            display = errors.require_text(request.display_name, "display_name", max_len=100, min_len=0)
        return user_pb(self.repo.update_profile(claims.tenant, errors.require_uuid(claims.user_id, "sub"), display))

    def GetJwks(self, request: pb.GetJwksRequest, context: grpc.ServicerContext) -> pb.GetJwksResponse:
        self.tokens.keys.refresh_if_stale()
        jwks = self.tokens.keys.jwks()
        return pb.GetJwksResponse(keys=[pb.Jwk(**k) for k in jwks["keys"]], jwks_json=json.dumps(jwks))
