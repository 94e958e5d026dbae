"""All configuration, from `PAKTA_*` environment variables (or a `.env` file).

One class, so the README table, docker-compose.yml and the code cannot drift apart
(tests/test_compose.py checks that they do not).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from workflows.messages import DEFAULT_MINISTRY_ORGS, OrgId
from workflows.portfolio.digest import DIGEST_HOUR

# Good enough for a laptop, never for production: create_app() refuses to start with it
# when env=production (unless tokens come from an OIDC issuer's JWKS instead).
DEV_JWT_SECRET = "pakta-dev-secret-do-not-use-in-production"
# Secrets that appear in Pakta's own files (examples, old compose fallbacks): public, so
# never a production secret whatever their length.
PUBLISHED_SECRETS = frozenset(
    {
        DEV_JWT_SECRET,
        "change-me-compose-only-secret-0123456789",
        "a-real-secret-from-the-vault",
    }
)
MIN_SECRET_CHARS = 32
MIN_SECRET_DISTINCT_CHARS = 12


def secret_weakness(secret: str) -> str | None:
    """Why `secret` cannot sign production tokens, or None. An HS256 secret is as strong
    as it is long and unpredictable: `openssl rand -base64 48` gives a good one."""
    if secret in PUBLISHED_SECRETS:
        return "it is published in Pakta's own files"
    if len(secret) < MIN_SECRET_CHARS:
        return f"it is shorter than {MIN_SECRET_CHARS} characters"
    if len(set(secret)) < MIN_SECRET_DISTINCT_CHARS:
        return "it repeats too few characters to be unpredictable"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAKTA_", env_file=".env", extra="ignore", frozen=True)

    env: Literal["dev", "production"] = "dev"

    database_url: str = "postgresql+asyncpg://pakta@127.0.0.1:5432/pakta"
    # Connections each process keeps open to PostgreSQL; more (up to 10 above) are opened
    # under load and closed when returned, each costing PostgreSQL a new backend.
    database_pool_size: int = Field(default=20, ge=1, le=1000)

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "pakta"
    temporal_tls: bool = False
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_api_key: str | None = Field(default=None, repr=False)
    # Start agreement workflows with the search attributes PaktaOrgs, PaktaKind, PaktaStage
    # and PaktaStep (the namespace must have them: `pakta dev` registers them; on a cluster,
    # `temporal operator search-attribute create`, see the README). Off: started without.
    temporal_search_attributes: bool = True
    # The worker's share of the work: workflow tasks and activities run at once, the long
    # polls kept open per kind of task, and how many workflows stay cached between their
    # tasks (sticky: a cached workflow's next task replays nothing).
    worker_max_workflow_tasks: int = Field(default=100, ge=1, le=10_000)
    worker_max_activities: int = Field(default=100, ge=1, le=10_000)
    worker_max_local_activities: int = Field(default=100, ge=1, le=10_000)
    worker_workflow_pollers: int = Field(default=5, ge=2, le=100)
    worker_activity_pollers: int = Field(default=5, ge=1, le=100)
    worker_cached_workflows: int = Field(default=1000, ge=0, le=100_000)

    jwt_secret: str = Field(default=DEV_JWT_SECRET, repr=False)
    jwt_algorithm: str = "HS256"
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # Tokens from an OIDC issuer (RS256/ES256 and friends), verified with its JWKS: keys are
    # cached and fetched again when a token names a key id not seen yet.
    oidc_jwks_url: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_leeway_seconds: int = Field(default=60, ge=0, le=300)  # the issuer's clock may differ from ours
    # At most one forced fetch of the keys per this many seconds for unknown key ids, so
    # tokens with made-up key ids cannot turn Pakta into a flood against the issuer.
    oidc_jwks_cooldown_seconds: float = Field(default=30.0, ge=0)
    # Where the issuer puts Pakta's claims (dotted paths, e.g. `realm_access.roles`) and how
    # its role names map to Pakta's roles (`approver`) or gates (`gate:ministry`). Without a
    # map the claims must already hold Pakta's names.
    oidc_org_claim: str = "org"
    oidc_roles_claim: str = "roles"
    oidc_gates_claim: str = "gates"
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    # The web pages' sign-in through the issuer (authorization code with PKCE): the client
    # registered for Pakta, and where the issuer's endpoints are described.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    oidc_discovery_url: str | None = None
    oidc_scope: str = "openid profile"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Processes `pakta api` serves its one port with (uvicorn's workers, sharing the
    # socket): one per core the API may use. A process runs on one core (docs/performance-log.md).
    api_processes: int = Field(default=1, ge=1, le=64)
    document_max_bytes: int = 10 * 1024 * 1024
    # Bodies larger than these are refused with 413 before they are read or parsed.
    request_max_bytes: int = Field(default=1024 * 1024, gt=0)
    # How long the first response to an Idempotency-Key is replayed to its retries.
    idempotency_retention_hours: int = Field(default=168, ge=1, le=24 * 90)
    import_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    # How long the mail server may take over one mail: each of its replies, and the time
    # from the dispatcher's claim until the mail's content leaves (connecting and waiting
    # for a kept connection included). Past it the mail is retried later. At least 1 s:
    # less would time out every mail until it is given up. The claim's lease is 3 × this
    # + 2 s, so no other dispatcher sends the same mail while one still talks to the server.
    smtp_timeout_seconds: float = Field(default=30.0, ge=1, le=3600)
    mail_from: str = "pakta@localhost"

    # Notification delivery (email and webhooks): retried with exponential backoff from
    # `initial` up to `max` between attempts, given up after `give_up_hours`. Bounded (a
    # year's wait, ten years' give-up) so that a delivery's next try and its give-up time
    # are dates: `inf` (meant as "never") or a million years could not be added to one, and
    # every failed try raised, its outcome never written, for ever.
    public_url: str = "http://127.0.0.1:8000"
    delivery_retry_initial_seconds: float = Field(default=10.0, gt=0, le=365 * 86400)
    delivery_retry_max_seconds: float = Field(default=3600.0, gt=0, le=365 * 86400)
    delivery_give_up_hours: float = Field(default=72.0, gt=0, le=10 * 365 * 24)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_disable_after_hours: float = Field(default=72.0, ge=0)
    # The outbox dispatcher looks for due deliveries this often (retries coming due; rows
    # written while it was not listening): a recording's commit wakes it at once (NOTIFY).
    outbox_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    # Whether `pakta worker` also runs an outbox dispatcher. Off: workers only run the
    # agreements, and `pakta dispatcher` processes (any number) send the notifications.
    worker_dispatch: bool = True
    # Webhook egress: in production only public addresses are posted to (after DNS, on the
    # address connected), over https. Deliberate internal receivers go here: host names
    # (any address they resolve to) or IP addresses and CIDR networks, comma-separated.
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Whose approvers decide the Minister's approval (the `ministry` gate) of new agreements:
    # set by the platform, never by a proposal (the API overwrites what one says).
    ministry_orgs: Annotated[list[OrgId], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_MINISTRY_ORGS), min_length=1, max_length=10
    )
    dev_mail_dir: str | None = None

    # Portfolio sweep: `pakta worker` keeps its hourly Temporal Schedule; each organisation's
    # digest goes out at this hour of its own zone.
    portfolio_sweep: bool = True
    digest_hour: int = Field(default=DIGEST_HOUR, ge=0, le=22)

    log_level: str = "INFO"
    log_json: bool | None = None
    metrics_port: int = 9464
    # The API's /metrics: open in dev; in production only to a scraper showing this bearer token.
    metrics_token: str | None = Field(default=None, repr=False)

    @field_validator("webhook_allowed_hosts", "ministry_orgs", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _lower_case(cls, value: list[str]) -> list[str]:
        # Each entry is parsed (host name, address or network) where the egress rules are
        # built, when the API and worker start: a bad entry stops them with its name.
        return [item.lower() for item in value]

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def logs_as_json(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json

    @property
    def uses_dev_secret(self) -> bool:
        return self.jwt_secret == DEV_JWT_SECRET and not self.oidc_jwks_url

    @property
    def accepts_hmac_tokens(self) -> bool:
        """HS256 tokens signed with the shared secret: always in dev; in production only
        with a strong secret (an OIDC issuer may be the only source of tokens there)."""
        return not self.is_production or secret_weakness(self.jwt_secret) is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
