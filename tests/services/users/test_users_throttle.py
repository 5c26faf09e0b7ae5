"""Sign-in throttling shared through PostgreSQL: two users servers on one database share the budget, a restart
keeps it, windows expire, a success clears the account, tenants are apart, and the table holds no e-mail."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import grpc
import psycopg
import pytest
from psycopg.rows import dict_row

from services.common.pg_migrate import provision
from services.common.server import ShopServer
from services.common.settings import ConfigError
from services.protos.gen.shop.users.v1 import users_pb2 as pb
from services.protos.gen.shop.users.v1 import users_pb2_grpc
from services.users.app import MIGRATIONS, build
from services.users.passwords import Passwords
from services.users.servicer import SIGN_IN_FAILED, THROTTLED
from services.users.throttle import SignInLimits
from tests.services.pg_server import PgServer
from tests.services.users.users_support import UsersDb, md, users_settings, write_users_secrets

Stub = users_pb2_grpc.UsersServiceStub
PASSWORD = "correct horse battery"
WRONG = "wrong password!"


class Instance:
    """One users server (a replica) and a stub on its own channel."""

    def __init__(self, server: ShopServer) -> None:
        self.server = server
        self.channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        self.stub = users_pb2_grpc.UsersServiceStub(self.channel)  # type: ignore[no-untyped-call]

    def stop(self) -> None:  # idempotent
        self.channel.close()
        self.server.stop(grace=1)


Start = Callable[..., Instance]


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One secrets folder for every replica, as one Kubernetes Secret: the same jwt-keys, hence the same pepper."""
    return write_users_secrets(tmp_path_factory.mktemp("users-throttle-secrets"))


@pytest.fixture
def start(users_db: UsersDb, secrets_dir: Path) -> Iterator[Start]:
    """Starts users servers on the module's database; all are stopped at teardown."""
    started: list[Instance] = []

    def _start(limits: SignInLimits | None = None) -> Instance:
        server = build(
            users_settings(users_db.app_url, secrets_dir, health_interval_seconds=0.5),
            passwords=Passwords(time_cost=1, memory_cost_kib=8192, parallelism=1),
            sign_in_limits=limits or SignInLimits(),
        )
        server.start()
        instance = Instance(server)
        started.append(instance)
        return instance

    yield _start
    for instance in started:
        instance.stop()


def _tenant(stub: Stub, *emails: str) -> str:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    stub.CreateTenant(
        pb.CreateTenantRequest(
            tenant_id=tenant, display_name="Shop", admin_email=f"admin@{tenant}.test", admin_password=PASSWORD
        ),
        metadata=md(None, admin=True),
        timeout=20,
    )
    for email in emails:
        stub.Register(pb.RegisterRequest(email=email, password=PASSWORD), metadata=md(tenant), timeout=20)
    return tenant


def _sign_in(stub: Stub, tenant: str, email: str, password: str, client: str = "") -> tuple[grpc.StatusCode, str]:
    """The status code and message of a sign-in (OK and '' when it signed in)."""
    try:
        stub.SignIn(pb.SignInRequest(email=email, password=password, client_id=client), metadata=md(tenant), timeout=30)
    except grpc.RpcError as exc:
        return exc.code(), exc.details()
    return grpc.StatusCode.OK, ""


FAILED = (grpc.StatusCode.UNAUTHENTICATED, SIGN_IN_FAILED)
REFUSED = (grpc.StatusCode.RESOURCE_EXHAUSTED, THROTTLED)
SIGNED_IN = (grpc.StatusCode.OK, "")


def _rows(users_db: UsersDb, tenant: str | None = None) -> list[dict[str, object]]:
    """The table as the owner sees it (no row level security applies to the superuser)."""
    with psycopg.connect(users_db.admin_url, row_factory=dict_row) as conn:
        query = "SELECT tenant_id, scope, key_hash, failures, window_ends_at FROM sign_in_failures"
        if tenant is None:
            return conn.execute(query).fetchall()
        return conn.execute(query + " WHERE tenant_id = %s", [tenant]).fetchall()


def _account_failures(users_db: UsersDb, tenant: str) -> list[int]:
    return [int(str(r["failures"])) for r in _rows(users_db, tenant) if r["scope"] == "account"]


# -- across replicas and restarts -----------------------------------------------------------------------------


def test_failures_spread_over_two_replicas_share_the_account_budget(start: Start) -> None:
    a, b = start(), start()
    tenant = _tenant(a.stub, "bob@example.com", "carol@example.com")
    # five failures, alternating replicas and clients: each replica saw at most three
    for i, replica in enumerate([a, b, a, b, a]):
        assert _sign_in(replica.stub, tenant, "bob@example.com", WRONG, f"client-{i}") == FAILED
    # the sixth attempt is refused at either replica, even with the right password
    assert _sign_in(a.stub, tenant, "bob@example.com", PASSWORD, "client-9") == REFUSED
    assert _sign_in(b.stub, tenant, "bob@example.com", PASSWORD, "client-9") == REFUSED
    # another account of the same storefront is not affected
    assert _sign_in(b.stub, tenant, "carol@example.com", PASSWORD, "client-0") == SIGNED_IN


def test_guesses_sent_together_to_both_replicas_get_no_more_than_the_budget(start: Start, users_db: UsersDb) -> None:
    a, b = start(), start()
    tenant = _tenant(a.stub, "dan@example.com")
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(
                lambda i: _sign_in((a, b)[i % 2].stub, tenant, "dan@example.com", f"{WRONG} {i}", f"c{i}"), range(16)
            )
        )
    # five guesses were checked, all others refused: a check made before any failure was recorded would have let
    # every guess that arrived during a verification through
    assert answers.count(FAILED) == 5, answers
    assert answers.count(REFUSED) == 11, answers
    assert _account_failures(users_db, tenant) == [5]  # refused attempts do not count


def test_a_restart_keeps_the_count(start: Start) -> None:
    a = start()
    tenant = _tenant(a.stub, "erin@example.com")
    for _ in range(3):
        assert _sign_in(a.stub, tenant, "erin@example.com", WRONG) == FAILED
    a.stop()
    restarted = start()
    for _ in range(2):
        assert _sign_in(restarted.stub, tenant, "erin@example.com", WRONG) == FAILED
    assert _sign_in(restarted.stub, tenant, "erin@example.com", PASSWORD) == REFUSED


# -- window, success, per client --------------------------------------------------------------------------------


def test_the_window_expires(start: Start, users_db: UsersDb) -> None:
    a = start(SignInLimits(account_window_s=3.0))
    tenant = _tenant(a.stub, "fay@example.com")
    for _ in range(5):
        assert _sign_in(a.stub, tenant, "fay@example.com", WRONG) == FAILED
    assert _sign_in(a.stub, tenant, "fay@example.com", PASSWORD) == REFUSED
    (ends,) = [r["window_ends_at"] for r in _rows(users_db, tenant) if r["scope"] == "account"]
    assert isinstance(ends, datetime)
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.3)
    # a failure after the window starts a new one at 1, and the right password signs in again
    assert _sign_in(a.stub, tenant, "fay@example.com", WRONG) == FAILED
    assert _account_failures(users_db, tenant) == [1]
    assert _sign_in(a.stub, tenant, "fay@example.com", PASSWORD) == SIGNED_IN


def test_a_success_clears_the_account_at_every_replica(start: Start, users_db: UsersDb) -> None:
    a, b = start(), start()
    tenant = _tenant(a.stub, "gus@example.com")
    for _ in range(4):
        assert _sign_in(a.stub, tenant, "gus@example.com", WRONG) == FAILED
    assert _sign_in(b.stub, tenant, "gus@example.com", PASSWORD) == SIGNED_IN
    assert _account_failures(users_db, tenant) == []
    # a full budget again, at the other replica
    for _ in range(5):
        assert _sign_in(a.stub, tenant, "gus@example.com", WRONG) == FAILED
    assert _sign_in(a.stub, tenant, "gus@example.com", PASSWORD) == REFUSED


def test_the_client_limit_holds_across_accounts_and_a_success_does_not_clear_it(start: Start) -> None:
    limits = SignInLimits(client_max_failures=3)
    a, b = start(limits), start(limits)
    emails = [f"{name}@example.com" for name in ("hal", "ivy", "jon", "kim")]
    tenant = _tenant(a.stub, *emails)
    assert _sign_in(a.stub, tenant, emails[0], WRONG, "10.0.0.7") == FAILED
    assert _sign_in(b.stub, tenant, emails[1], WRONG, "10.0.0.7") == FAILED
    for _ in range(3):  # successes neither count nor clear the client's failures
        assert _sign_in(a.stub, tenant, emails[2], PASSWORD, "10.0.0.7") == SIGNED_IN
    assert _sign_in(b.stub, tenant, emails[2], WRONG, "10.0.0.7") == FAILED
    # three failures from this client: its next attempt is refused, for any account, at any replica
    assert _sign_in(a.stub, tenant, emails[3], PASSWORD, "10.0.0.7") == REFUSED
    assert _sign_in(b.stub, tenant, emails[3], PASSWORD, "10.0.0.7") == REFUSED
    # and the refusal did not count against that account: another client signs it in
    assert _sign_in(b.stub, tenant, emails[3], PASSWORD, "10.0.0.8") == SIGNED_IN


# -- tenants, privacy, unknown storefronts -------------------------------------------------------------------


def test_tenants_do_not_share_counts(start: Start, users_db: UsersDb) -> None:
    a = start()
    one, two = _tenant(a.stub, "lea@example.com"), _tenant(a.stub, "lea@example.com")
    for _ in range(5):
        assert _sign_in(a.stub, one, "lea@example.com", WRONG, "203.0.113.5") == FAILED
    assert _sign_in(a.stub, one, "lea@example.com", PASSWORD, "203.0.113.5") == REFUSED
    # the same e-mail from the same client at another storefront is its own count
    assert _sign_in(a.stub, two, "lea@example.com", PASSWORD, "203.0.113.5") == SIGNED_IN
    assert {r["tenant_id"] for r in _rows(users_db) if r["tenant_id"] in (one, two)} == {one, two}
    # the application role with tenant two set sees none of tenant one's rows, and cannot write one for it
    with psycopg.connect(users_db.app_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", [two])
        assert conn.execute("SELECT count(*) FROM sign_in_failures WHERE tenant_id = %s", [one]).fetchone() == (0,)
        assert conn.execute("UPDATE sign_in_failures SET failures = 0 WHERE tenant_id = %s", [one]).rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO sign_in_failures (tenant_id, scope, key_hash, failures, window_ends_at) "
                "VALUES (%s, 'account', %s, 1, now())",
                [one, bytes(32)],
            )


def test_the_table_never_holds_the_email_or_the_client_in_clear(start: Start, users_db: UsersDb) -> None:
    a = start()
    email, client = "mia.secret@example.com", "198.51.100.23"
    tenant = _tenant(a.stub, email)
    for _ in range(3):
        assert _sign_in(a.stub, tenant, email, WRONG, client) == FAILED
    rows = _rows(users_db, tenant)
    assert sorted((r["scope"], r["failures"]) for r in rows) == [("account", 3), ("client", 3)]
    plain = {hashlib.sha256(v.encode()).digest() for v in (email, client, f"{tenant}\x00{email}")}
    for row in rows:
        key = row["key_hash"]
        assert isinstance(key, bytes)
        assert len(key) == 32
        assert key not in plain  # peppered: not a digest anyone can recompute from a list of addresses
    with psycopg.connect(users_db.admin_url) as conn:
        dumped = [r[0] for r in conn.execute("SELECT f::text FROM sign_in_failures f").fetchall()]
    for text in dumped:
        for needle in (email, "mia.secret", client, email.encode().hex(), client.encode().hex()):
            assert needle not in text


def test_a_storefront_that_does_not_exist_counts_nothing(start: Start, users_db: UsersDb) -> None:
    a = start()
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    for _ in range(7):  # no account to guess there, and no row that its own cleanup would ever delete
        assert _sign_in(a.stub, ghost, "nobody@example.com", WRONG) == FAILED
    assert _rows(users_db, ghost) == []


def test_expired_windows_are_cleaned_up_a_bounded_batch_per_attempt(start: Start, users_db: UsersDb) -> None:
    a = start()
    tenant = _tenant(a.stub, "ola@example.com")
    with psycopg.connect(users_db.admin_url) as conn:  # 30 windows that ended a minute ago, 1 still open
        for i in range(31):
            conn.execute(
                "INSERT INTO sign_in_failures (tenant_id, scope, key_hash, failures, window_ends_at) "
                "VALUES (%s, 'client', %s, 3, now() + make_interval(secs => %s))",
                [tenant, hashlib.sha256(f"old-{i}".encode()).digest(), 60 if i == 30 else -60],
            )
    assert _sign_in(a.stub, tenant, "ola@example.com", WRONG) == FAILED
    assert len(_rows(users_db, tenant)) == 31 - 20 + 2  # 20 expired deleted; the attempt's account and client
    assert _sign_in(a.stub, tenant, "ola@example.com", WRONG) == FAILED
    assert len(_rows(users_db, tenant)) == 3  # the open window and the attempt's two rows


# -- failure modes and settings -----------------------------------------------------------------------------


def test_sign_in_fails_when_the_database_or_the_throttle_is_unusable(
    pg_server_factory: Callable[[], PgServer], secrets_dir: Path
) -> None:
    pg = pg_server_factory()
    name = pg.create_database()
    provision(pg.url(name), MIGRATIONS, "users_t_app", "pw")
    server = build(
        users_settings(pg.url(name, "users_t_app", "pw"), secrets_dir, health_interval_seconds=0.5),
        passwords=Passwords(time_cost=1, memory_cost_kib=8192, parallelism=1),
        sign_in_limits=SignInLimits(),
    )
    server.start()
    replica = Instance(server)
    try:
        tenant = _tenant(replica.stub, "ned@example.com")
        assert _sign_in(replica.stub, tenant, "ned@example.com", PASSWORD) == SIGNED_IN
        # the throttle alone cannot count (the accounts are readable): no guess is checked without it
        with psycopg.connect(pg.url(name), autocommit=True) as conn:
            conn.execute("REVOKE ALL ON sign_in_failures FROM users_t_app")
        assert _sign_in(replica.stub, tenant, "ned@example.com", WRONG)[0] == grpc.StatusCode.INTERNAL
        assert _sign_in(replica.stub, tenant, "ned@example.com", PASSWORD)[0] == grpc.StatusCode.INTERNAL
        with psycopg.connect(pg.url(name), autocommit=True) as conn:
            conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON sign_in_failures TO users_t_app")
        assert _sign_in(replica.stub, tenant, "ned@example.com", PASSWORD) == SIGNED_IN
        pg.stop()
        # not signed in unthrottled, not a wrong-password answer: the error of any sign-in without its database
        code, _ = _sign_in(replica.stub, tenant, "ned@example.com", PASSWORD)
        assert code == grpc.StatusCode.INTERNAL
    finally:
        replica.stop()


def test_limits_come_from_settings_with_the_current_defaults() -> None:
    assert SignInLimits.from_env({}) == SignInLimits(5, 900.0, 50, 900.0)
    assert SignInLimits.from_env(
        {
            "SHOP_SIGNIN_ACCOUNT_MAX_FAILURES": "3",
            "SHOP_SIGNIN_ACCOUNT_WINDOW_S": "60",
            "SHOP_SIGNIN_CLIENT_MAX_FAILURES": " 20 ",
            "SHOP_SIGNIN_CLIENT_WINDOW_S": "0.5",
        }
    ) == SignInLimits(3, 60.0, 20, 0.5)
    assert SignInLimits.from_env({"SHOP_SIGNIN_ACCOUNT_MAX_FAILURES": ""}) == SignInLimits()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHOP_SIGNIN_ACCOUNT_MAX_FAILURES", "0"),
        ("SHOP_SIGNIN_ACCOUNT_MAX_FAILURES", "-5"),
        ("SHOP_SIGNIN_ACCOUNT_MAX_FAILURES", "five"),
        ("SHOP_SIGNIN_CLIENT_MAX_FAILURES", "2.5"),
        ("SHOP_SIGNIN_CLIENT_MAX_FAILURES", "99999999999"),
        ("SHOP_SIGNIN_ACCOUNT_WINDOW_S", "0"),
        ("SHOP_SIGNIN_ACCOUNT_WINDOW_S", "-1"),
        ("SHOP_SIGNIN_CLIENT_WINDOW_S", "nan"),
        ("SHOP_SIGNIN_CLIENT_WINDOW_S", "inf"),
        ("SHOP_SIGNIN_CLIENT_WINDOW_S", "15m"),
        ("SHOP_SIGNIN_CLIENT_WINDOW_S", "1e9"),
    ],
)
def test_a_bad_limit_is_a_config_error_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        SignInLimits.from_env({name: value})
    assert name in str(info.value)
    assert repr(value) in str(info.value)


def test_the_service_refuses_to_start_with_a_bad_limit(monkeypatch: pytest.MonkeyPatch, secrets_dir: Path) -> None:
    monkeypatch.setenv("SHOP_SIGNIN_ACCOUNT_WINDOW_S", "-900")
    with pytest.raises(ConfigError, match="SHOP_SIGNIN_ACCOUNT_WINDOW_S"):  # before it connects anywhere
        build(users_settings("postgresql://nobody@127.0.0.1:1/users", secrets_dir, health_interval_seconds=0.5))
