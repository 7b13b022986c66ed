"""Environment variable names and their defaults: the one place that reads the environment.

Every service, consumer and tool builds its settings with `Settings.from_env()`; nothing else
calls os.environ for configuration.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from inventory_core.topology import DEFAULT_PREFIX

# Names of the environment variables (Terraform outputs and Zappa stages set exactly these).
SHOP_DATABASE_URL = "SHOP_DATABASE_URL"
FACTORY_DATABASE_URL = "FACTORY_DATABASE_URL"
SHOP_DATABASE_SECRET_ARN = "SHOP_DATABASE_SECRET_ARN"
FACTORY_DATABASE_SECRET_ARN = "FACTORY_DATABASE_SECRET_ARN"
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
AWS_REGION = "AWS_REGION"
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"  # boto3's fallback for AWS_REGION
AWS_ACCOUNT_ID = "AWS_ACCOUNT_ID"
NAME_PREFIX = "NAME_PREFIX"
FACTORY_API_URL = "FACTORY_API_URL"
ADMIN_TOKEN = "ADMIN_TOKEN"
# On AWS the admin credential lives in Secrets Manager (rotated without a deploy); this names it.
ADMIN_SECRET_ARN = "ADMIN_SECRET_ARN"
# Who may write to the factory. On AWS: API Gateway checks the SigV4 signature (IAM
# authorization) and the factory app checks the caller is a session of this role.
FACTORY_WRITER_ROLE_ARN = "FACTORY_WRITER_ROLE_ARN"
# Locally (no API Gateway): the factory checks the SigV4 signature itself against this key pair,
# which the local stack also gives the consumers as their AWS credentials.
FACTORY_WRITER_ACCESS_KEY_ID = "FACTORY_WRITER_ACCESS_KEY_ID"
FACTORY_WRITER_SECRET_ACCESS_KEY = "FACTORY_WRITER_SECRET_ACCESS_KEY"
PRODUCTION_SECONDS = "PRODUCTION_SECONDS"
SES_SENDER = "SES_SENDER"
# Who is mailed on AWS (Terraform variables; terraform/ses.tf). The sample data's managers are
# @example.com, which can never receive mail: `deploy.tasks.prepare_shop` writes these over them.
OPERATOR_EMAIL = "OPERATOR_EMAIL"
AD_MANAGER_EMAIL = "AD_MANAGER_EMAIL"
FACTORY_MANAGER_EMAILS = "FACTORY_MANAGER_EMAILS"  # "1=a@x.org,2=b@y.org"
# The outbox: a row that failed this many publishing attempts is parked (kept, no longer tried,
# shown to operators and alarmed on) ...
OUTBOX_MAX_ATTEMPTS = "OUTBOX_MAX_ATTEMPTS"
# ... and between attempts it waits this long, doubling each time (capped at 15 minutes).
OUTBOX_BACKOFF_SECONDS = "OUTBOX_BACKOFF_SECONDS"
# Log lines as JSON objects ("json") or readable text ("text"); JSON on Lambda unless set.
LOG_FORMAT = "LOG_FORMAT"
AWS_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"  # set by Lambda in every function
# The CloudWatch namespace of the embedded-format metrics (inventory_core.adapters.metrics).
METRICS_NAMESPACE = "METRICS_NAMESPACE"
DEFAULT_METRICS_NAMESPACE = "Replenishment"

# Set by Lambda itself in every function's environment (never in our settings): we run on Lambda.
AWS_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"

ENV_VARS = (SHOP_DATABASE_URL, FACTORY_DATABASE_URL, SHOP_DATABASE_SECRET_ARN,
            FACTORY_DATABASE_SECRET_ARN, AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCOUNT_ID, NAME_PREFIX,
            FACTORY_API_URL, ADMIN_TOKEN, ADMIN_SECRET_ARN, FACTORY_WRITER_ROLE_ARN,
            FACTORY_WRITER_ACCESS_KEY_ID, FACTORY_WRITER_SECRET_ACCESS_KEY, PRODUCTION_SECONDS,
            SES_SENDER, OPERATOR_EMAIL, AD_MANAGER_EMAIL, FACTORY_MANAGER_EMAILS,
            OUTBOX_MAX_ATTEMPTS, OUTBOX_BACKOFF_SECONDS, METRICS_NAMESPACE, LOG_FORMAT)


@dataclass(frozen=True)
class Settings:
    shop_database_url: str = "sqlite:///var/shop.db"
    factory_database_url: str = "sqlite:///var/factory.db"
    shop_database_secret_arn: str | None = None
    factory_database_secret_arn: str | None = None
    aws_endpoint_url: str | None = None
    aws_region: str = "ap-northeast-2"
    aws_account_id: str | None = None  # read from STS when unset (moto answers 123456789012)
    name_prefix: str = DEFAULT_PREFIX
    factory_api_url: str = "http://127.0.0.1:5001"
    admin_token: str | None = field(default=None, repr=False)  # admin routes: 403 until set
    admin_secret_arn: str | None = None  # when set, the admin credential is read from it instead
    factory_writer_role_arn: str | None = None
    factory_writer_access_key_id: str | None = None
    factory_writer_secret_access_key: str | None = field(default=None, repr=False)
    production_seconds: int | None = None  # overrides every factory's lead time when set
    ses_sender: str = "replenishment@example.com"
    operator_email: str | None = None
    ad_manager_email: str | None = None
    factory_manager_emails: tuple[tuple[int, str], ...] = ()  # (factory id, e-mail)
    outbox_max_attempts: int = 10
    outbox_backoff_seconds: int = 5
    log_format: str = "text"
    on_lambda: bool = False

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None) -> Settings:
        env = os.environ if environ is None else environ
        base = cls()

        def get(name: str, default):
            value = env.get(name)
            return default if value in (None, "") else value

        production = get(PRODUCTION_SECONDS, None)
        on_lambda = bool(get(AWS_LAMBDA_FUNCTION_NAME, None))
        return cls(
            shop_database_url=get(SHOP_DATABASE_URL, base.shop_database_url),
            factory_database_url=get(FACTORY_DATABASE_URL, base.factory_database_url),
            shop_database_secret_arn=get(SHOP_DATABASE_SECRET_ARN, None),
            factory_database_secret_arn=get(FACTORY_DATABASE_SECRET_ARN, None),
            aws_endpoint_url=get(AWS_ENDPOINT_URL, None),
            aws_region=get(AWS_REGION, get(AWS_DEFAULT_REGION, base.aws_region)),
            aws_account_id=get(AWS_ACCOUNT_ID, None),
            name_prefix=get(NAME_PREFIX, base.name_prefix),
            factory_api_url=get(FACTORY_API_URL, base.factory_api_url).rstrip("/"),
            admin_token=get(ADMIN_TOKEN, None),
            admin_secret_arn=get(ADMIN_SECRET_ARN, None),
            factory_writer_role_arn=get(FACTORY_WRITER_ROLE_ARN, None),
            factory_writer_access_key_id=get(FACTORY_WRITER_ACCESS_KEY_ID, None),
            factory_writer_secret_access_key=get(FACTORY_WRITER_SECRET_ACCESS_KEY, None),
            production_seconds=int(production) if production is not None else None,
            ses_sender=get(SES_SENDER, base.ses_sender),
            operator_email=get(OPERATOR_EMAIL, None),
            ad_manager_email=get(AD_MANAGER_EMAIL, None),
            factory_manager_emails=parse_factory_emails(get(FACTORY_MANAGER_EMAILS, "")),
            outbox_max_attempts=_whole(OUTBOX_MAX_ATTEMPTS, get(OUTBOX_MAX_ATTEMPTS, None),
                                       base.outbox_max_attempts, minimum=1),
            outbox_backoff_seconds=_whole(OUTBOX_BACKOFF_SECONDS,
                                          get(OUTBOX_BACKOFF_SECONDS, None),
                                          base.outbox_backoff_seconds, minimum=0),
            log_format=get(LOG_FORMAT, "json" if on_lambda else "text").strip().lower(),
            on_lambda=on_lambda,
        )

    def but(self, **changes) -> Settings:
        return replace(self, **changes)


def _whole(name: str, text: str | None, default: int, minimum: int) -> int:
    """A whole number of at least `minimum` from the environment, or a clear error naming it."""
    if text is None:
        return default
    if not text.strip().isdigit() or int(text) < minimum:
        raise ValueError(f"{name}: {text!r} is not a whole number >= {minimum}")
    return int(text)


@dataclass(frozen=True)
class PoolLimits:
    """How many connections one process keeps to one database (SQLAlchemy's QueuePool)."""
    size: int  # kept open between requests
    overflow: int  # opened beyond `size` while busy, closed when returned
    timeout: float = 30.0  # seconds a checkout waits for a free connection

    @property
    def most(self) -> int:
        return self.size + self.overflow


# A Lambda container serves one request (or one batch) at a time, and no code path holds two
# connections to one database at once (tests/integration/test_connection_budget.py): one connection
# per container and database, no overflow. The deployed connection budget (deploy/capacity.py)
# counts on exactly this. A waiting checkout would be a bug, so it fails fast instead of hanging.
LAMBDA_POOL = PoolLimits(size=1, overflow=0, timeout=5.0)
# A local gunicorn worker serves several threads at once (make run: 4).
LOCAL_POOL = PoolLimits(size=5, overflow=10)


def pool_limits(environ: os._Environ | dict | None = None) -> PoolLimits:
    env = os.environ if environ is None else environ
    return LAMBDA_POOL if env.get(AWS_LAMBDA_FUNCTION_NAME) else LOCAL_POOL


def metrics_namespace(environ: os._Environ | dict | None = None) -> str:
    """Read apart from Settings: metrics are written from any depth, where no Settings is at
    hand, and the namespace is fixed per deployment."""
    env = os.environ if environ is None else environ
    return env.get(METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE


def parse_factory_emails(text: str) -> tuple[tuple[int, str], ...]:
    """"1=a@x.org,2=b@y.org" (FACTORY_MANAGER_EMAILS, as Terraform writes it) ->
    ((1, "a@x.org"), (2, "b@y.org"))."""
    found: dict[int, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        factory_id, sep, email = pair.partition("=")
        if not sep or not factory_id.strip().isdigit() or "@" not in email:
            raise ValueError(f"{FACTORY_MANAGER_EMAILS}: {pair!r} is not <factory id>=<e-mail>")
        found[int(factory_id)] = email.strip()
    return tuple(sorted(found.items()))
