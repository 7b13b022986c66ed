"""What the local stack reads from the environment, and the environment it gives every part.

Only the local stack's own knobs are read here (ports, the local visibility timeout, the relay
interval); everything the services read goes through `inventory_core.config.Settings` in the
children, from the environment built by `child_environment`.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from inventory_core.config import (
    ADMIN_SECRET_ARN,
    ADMIN_TOKEN,
    AWS_DEFAULT_REGION,
    AWS_ENDPOINT_URL,
    AWS_REGION,
    FACTORY_API_URL,
    FACTORY_DATABASE_URL,
    FACTORY_WRITER_ACCESS_KEY_ID,
    FACTORY_WRITER_ROLE_ARN,
    FACTORY_WRITER_SECRET_ACCESS_KEY,
    OPERATOR_EMAIL,
    PRODUCTION_SECONDS,
    REPLENISHMENT_ACCEPT_SECONDS,
    REPLENISHMENT_GRACE_SECONDS,
    REPLENISHMENT_MAX_REQUESTS,
    SHOP_DATABASE_URL,
    Settings,
)
from inventory_core.domain.replenishment import Timeouts

ROOT = Path(__file__).resolve().parent.parent  # the repository: children run from here
VAR = ROOT / "var"  # ignored by git; the default SQLite files live here

# The local stack's own environment variables and their defaults.
SHOP_PORT, FACTORY_PORT, AWS_PORT = "SHOP_PORT", "FACTORY_PORT", "AWS_PORT"
DEFAULT_PORTS = {SHOP_PORT: 5000, FACTORY_PORT: 5001, AWS_PORT: 5002}
# SQS visibility timeout of every local queue: short, so a failed message comes back (and reaches
# its DLQ after maxReceiveCount) within seconds instead of the minute the topology uses on AWS.
LOCAL_VISIBILITY_TIMEOUT = "LOCAL_VISIBILITY_TIMEOUT"
DEFAULT_VISIBILITY_TIMEOUT = 5
RELAY_INTERVAL = "RELAY_INTERVAL"  # seconds between two outbox sweeps
DEFAULT_RELAY_INTERVAL = 3.0
# Seconds between two runs of the replenishment lifecycle check (every minute on AWS): short, so
# short REPLENISHMENT_* timeouts (a demo, a test) take effect within seconds.
LIFECYCLE_INTERVAL = "LIFECYCLE_INTERVAL"
DEFAULT_LIFECYCLE_INTERVAL = 5.0
LEARN_INTERVAL = "LEARN_INTERVAL"  # seconds between learned-rule runs (hourly on AWS)
DEFAULT_LEARN_INTERVAL = 60.0
LOCAL_VERBOSE = "LOCAL_VERBOSE"  # 1: also show moto's request log
# Who the operator e-mails go to locally (failed or stalled orders, delivery anomalies): moto's
# SES keeps them, the dashboard lists them. OPERATOR_EMAIL chooses another.
DEFAULT_OPERATOR_EMAIL = "operator@example.com"

# What the consumers and relay parts print once they run; the supervisor waits for these texts.
EVENT_SOURCES_READY = "event sources ready"
RELAY_READY = "relay ready"

# Fake credentials: boto3 needs some, moto accepts any, and nothing can ever reach real AWS.
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
REAL_AWS_VARIABLES = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE",
                      "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                      "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
                      "AWS_ROLE_ARN")
# Names that point at AWS resources: a user's shell may hold them, the local stack must not.
AWS_ONLY_VARIABLES = (ADMIN_SECRET_ARN, FACTORY_WRITER_ROLE_ARN)
DEFAULT_REGION = Settings().aws_region


class ConfigError(ValueError):
    """A setting the user gave cannot work; the message says which and why."""


@dataclass(frozen=True)
class StackConfig:
    host: str
    shop_port: int
    factory_port: int
    aws_port: int
    shop_database_url: str
    factory_database_url: str
    admin_token: str
    admin_token_generated: bool
    # The factory writer's key pair, new every run: the consumers sign their factory calls with
    # it (as their AWS credentials), the factory verifies them with it.
    writer_access_key_id: str
    writer_secret_access_key: str
    visibility_timeout: int
    relay_interval: float
    production_seconds: str | None
    verbose: bool
    lifecycle_interval: float = DEFAULT_LIFECYCLE_INTERVAL
    # The replenishment deadlines every part reads (inventory_core.config; the ready banner)
    timeouts: Timeouts = Settings().replenishment_timeouts
    operator_email: str = DEFAULT_OPERATOR_EMAIL

    @property
    def shop_url(self) -> str:
        return f"http://{self.host}:{self.shop_port}"

    @property
    def factory_url(self) -> str:
        return f"http://{self.host}:{self.factory_port}"

    @property
    def aws_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    def ports(self) -> dict[str, int]:
        return {SHOP_PORT: self.shop_port, FACTORY_PORT: self.factory_port, AWS_PORT: self.aws_port}


def _port(environ, name: str) -> int:
    raw = environ.get(name) or str(DEFAULT_PORTS[name])
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}={port} is not a port number (1-65535)")
    return port


def _number(environ, name: str, default, kind=float):
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


def visibility_timeout(environ=None) -> int:
    """LOCAL_VISIBILITY_TIMEOUT, or its default when unset or 0."""
    env = os.environ if environ is None else environ
    return (int(_number(env, LOCAL_VISIBILITY_TIMEOUT, DEFAULT_VISIBILITY_TIMEOUT, int))
            or DEFAULT_VISIBILITY_TIMEOUT)


def relay_interval(environ=None) -> float:
    """RELAY_INTERVAL, or its default when unset or 0."""
    env = os.environ if environ is None else environ
    return _number(env, RELAY_INTERVAL, DEFAULT_RELAY_INTERVAL) or DEFAULT_RELAY_INTERVAL


def lifecycle_interval(environ=None) -> float:
    """LIFECYCLE_INTERVAL, or its default when unset or 0."""
    env = os.environ if environ is None else environ
    return (_number(env, LIFECYCLE_INTERVAL, DEFAULT_LIFECYCLE_INTERVAL)
            or DEFAULT_LIFECYCLE_INTERVAL)
def learn_interval(environ=None) -> float:
    """LEARN_INTERVAL, or its default when unset or 0."""
    env = os.environ if environ is None else environ
    return _number(env, LEARN_INTERVAL, DEFAULT_LEARN_INTERVAL) or DEFAULT_LEARN_INTERVAL


def load(environ=None) -> StackConfig:
    env = os.environ if environ is None else environ
    ports = {name: _port(env, name) for name in DEFAULT_PORTS}
    if len(set(ports.values())) < len(ports):
        raise ConfigError(f"{SHOP_PORT}, {FACTORY_PORT} and {AWS_PORT} must be three different "
                          f"ports (got {', '.join(f'{k}={v}' for k, v in ports.items())})")
    production = env.get(PRODUCTION_SECONDS) or None
    if production is not None:
        _number(env, PRODUCTION_SECONDS, None, int)
    token = env.get(ADMIN_TOKEN) or ""
    return StackConfig(
        host="127.0.0.1",
        shop_port=ports[SHOP_PORT], factory_port=ports[FACTORY_PORT], aws_port=ports[AWS_PORT],
        # Absolute paths, so every part opens the same files whatever its working directory.
        shop_database_url=env.get(SHOP_DATABASE_URL) or f"sqlite:///{VAR / 'shop.db'}",
        factory_database_url=env.get(FACTORY_DATABASE_URL) or f"sqlite:///{VAR / 'factory.db'}",
        admin_token=token or secrets.token_urlsafe(18),
        admin_token_generated=not token,
        writer_access_key_id="LOCALWRITER" + secrets.token_hex(5).upper(),
        writer_secret_access_key=secrets.token_urlsafe(30),
        visibility_timeout=visibility_timeout(env),
        relay_interval=relay_interval(env),
        production_seconds=production,
        verbose=env.get(LOCAL_VERBOSE, "") not in ("", "0"),
        lifecycle_interval=lifecycle_interval(env),
        timeouts=_timeouts(env),
        operator_email=env.get(OPERATOR_EMAIL) or DEFAULT_OPERATOR_EMAIL,
    )


def _timeouts(env) -> Timeouts:
    try:
        return Settings.from_env({name: env.get(name, "") for name in (
            REPLENISHMENT_ACCEPT_SECONDS, REPLENISHMENT_MAX_REQUESTS,
            REPLENISHMENT_GRACE_SECONDS)}).replenishment_timeouts
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def child_environment(config: StackConfig, environ=None) -> dict[str, str]:
    """The environment of every part: the user's, pointed at the local broker and databases."""
    env = dict(os.environ if environ is None else environ)
    for name in REAL_AWS_VARIABLES + AWS_ONLY_VARIABLES:
        env.pop(name, None)
    region = env.get(AWS_REGION) or env.get(AWS_DEFAULT_REGION) or DEFAULT_REGION
    env.update(FAKE_AWS)
    env.update({
        AWS_ENDPOINT_URL: config.aws_url,
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        "AWS_EC2_METADATA_DISABLED": "true",  # never wait on an instance metadata service
        SHOP_DATABASE_URL: config.shop_database_url,
        FACTORY_DATABASE_URL: config.factory_database_url,
        FACTORY_API_URL: config.factory_url,
        ADMIN_TOKEN: config.admin_token,
        LOCAL_VISIBILITY_TIMEOUT: str(config.visibility_timeout),
        RELAY_INTERVAL: str(config.relay_interval),
        LIFECYCLE_INTERVAL: str(config.lifecycle_interval),
        OPERATOR_EMAIL: config.operator_email,
        "PYTHONUNBUFFERED": "1",  # lines reach the supervisor as they are written
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    })
    if config.production_seconds is None:
        env.pop(PRODUCTION_SECONDS, None)  # the factories' own lead times from the seed
    else:
        env[PRODUCTION_SECONDS] = config.production_seconds
    return env


def part_environment(config: StackConfig, part: str) -> dict[str, str]:
    """What one part gets on top of `child_environment`: the consumers sign their factory calls
    with the writer's key pair (boto3's default chain reads it, as it reads a role's on Lambda;
    moto accepts any key), the factory verifies with it. No other part holds it."""
    if part == "consumers":
        return {"AWS_ACCESS_KEY_ID": config.writer_access_key_id,
                "AWS_SECRET_ACCESS_KEY": config.writer_secret_access_key}
    if part == "factory":
        return {FACTORY_WRITER_ACCESS_KEY_ID: config.writer_access_key_id,
                FACTORY_WRITER_SECRET_ACCESS_KEY: config.writer_secret_access_key}
    return {}


def redact(url: str) -> str:
    """A database URL fit to print: its password hidden (SQLAlchemy's own rendering)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy could connect to: show none of it
        return "<not a database URL>"
