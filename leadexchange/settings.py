"""leadexchange settings: one module, driven by environment variables.

With no environment at all it runs the *embedded default*: SQLite in ``var/``, auctions
in-process, no other server, a secret key generated once in ``var/secret_key``. Production
sets ``DATABASE_URL`` (PostgreSQL), ``DJANGO_SECRET_KEY`` (required once ``DATABASE_URL`` is
set), ``CELERY_BROKER_URL`` and ``REDIS_URL`` (see README and ``.env.example``).
"""

import os
import secrets
from pathlib import Path
from typing import TypedDict

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def embedded_secret_key(path: Path) -> str:
    """The embedded default's own secret key: read from ``path``, or generated there once
    (``secrets``, mode 0600) on the first start. Several processes starting at once agree on
    one key: each writes a private temporary file and hard-links it into place, which only
    the first can do; the others read the winner's."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
        os.link(scratch, path)
    except FileExistsError:
        pass  # another process won the race: its key is the key
    finally:
        scratch.unlink(missing_ok=True)
    return path.read_text().strip()


# --- Core -------------------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The *embedded default* is "no DATABASE_URL" (SQLite in var/, one machine): it keeps a key of
# its own in var/ so `make run` works from a fresh clone. Anything else is a deployment, where
# a key nobody set would be a guessable one: refuse to start.
if env("DJANGO_SECRET_KEY", default=""):
    SECRET_KEY = env("DJANGO_SECRET_KEY")
elif not env("DATABASE_URL", default=""):
    SECRET_KEY = embedded_secret_key(VAR_DIR / "secret_key")
else:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. With DATABASE_URL set (production) the secret key must "
        "come from the environment, e.g. DJANGO_SECRET_KEY=$(python -c 'import secrets; "
        "print(secrets.token_urlsafe(50))'). Only the embedded default (no DATABASE_URL) "
        "generates its own, in var/secret_key."
    )
# The key of the keyed digests (HMAC-SHA256) that find a consumer's leads, suppress a consumer
# and record an erasure without keeping the e-mail or phone (apps.core.pii). Its own key, not
# SECRET_KEY: rotating the secret key (sessions, tokens) must not lose every digest. Same rule
# as the secret key: the embedded default keeps one in var/, a deployment must set it.
if env("PII_DIGEST_KEY", default=""):
    PII_DIGEST_KEY = env("PII_DIGEST_KEY")
elif not env("DATABASE_URL", default=""):
    PII_DIGEST_KEY = embedded_secret_key(VAR_DIR / "pii_digest_key")
else:
    raise ImproperlyConfigured(
        "PII_DIGEST_KEY is not set. With DATABASE_URL set (production) the key of the "
        "personal-data digests must come from the environment, e.g. PII_DIGEST_KEY=$(python -c "
        "'import secrets; print(secrets.token_urlsafe(50))'), and never change afterwards (the "
        "suppression list and erasure records are kept as digests under it). Only the embedded "
        "default (no DATABASE_URL) generates its own, in var/pii_digest_key."
    )
# The key ring that seals personal data and secrets at rest (apps.core.sealing): "id:secret"
# entries, comma-separated, the first one seals, all of them open. Same rule again: the
# embedded default keeps one key in var/, a deployment must set it. Rotation: README.
if env("PII_ENCRYPTION_KEYS", default=""):
    PII_ENCRYPTION_KEYS = env.list("PII_ENCRYPTION_KEYS")
elif not env("DATABASE_URL", default=""):
    PII_ENCRYPTION_KEYS = ["local:" + embedded_secret_key(VAR_DIR / "pii_encryption_key")]
else:
    raise ImproperlyConfigured(
        "PII_ENCRYPTION_KEYS is not set. With DATABASE_URL set (production) the key ring that "
        "encrypts personal data at rest must come from the environment, e.g. "
        "PII_ENCRYPTION_KEYS=k1:$(python -c 'import secrets; print(secrets.token_urlsafe(32))') "
        "(id:secret entries, the first one encrypts; see README, key rotation). Only the "
        "embedded default (no DATABASE_URL) generates its own, in var/pii_encryption_key."
    )
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "apps.core",
    "apps.sources",
    "apps.buyers",
    "apps.leads",
    "apps.webhooks",
    "apps.auctions",
    "apps.billing",
    "apps.routing",
    "apps.privacy",  # consumer erasure: scrubs the rows of the apps to its left
    "apps.reports",
    "apps.ops",  # /healthz, /readyz, /metrics
    "apps.demo",  # demo data, buyer simulator, synthetic history: tools, not product
]

MIDDLEWARE = [
    # /healthz, /readyz, /metrics: answered first, whatever the Host header and the scheme
    # (probes reach a process by its address, over plain HTTP)
    "apps.ops.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # a NUL in a query parameter, header or cookie is a 400 before anything looks it up
    "apps.core.unstorable.UnstorableRequestMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, as django-axes asks: it locks out a login after repeated failures
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "leadexchange.urls"
WSGI_APPLICATION = "leadexchange.wsgi.application"
ASGI_APPLICATION = "leadexchange.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at BEGIN so
# two writers queue on busy_timeout instead of failing with "database is locked" mid-way.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Django's backend, with writers waiting in line for the write lock (see its docstring)
    DATABASES["default"]["ENGINE"] = "apps.core.sqlite_backend"
    DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
    # One connection per thread for the thread's life: opening one (the WAL pragmas, Django's
    # SQL functions) costs ~0.7 ms of CPU, as much as the rest of a request's queries.
    DATABASES["default"]["CONN_MAX_AGE"] = None
else:
    # A connection pool per process (psycopg_pool): request threads and auction threads
    # borrow a connection and give it back, instead of opening one per auction.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=40),
        "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and cache --------------------------------------------------------------------------

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------------------------
# Without a broker the embedded default runs background work in-process (apps.core.dispatch).

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
# redis:// brokers: kombu's Redis transport, one Redis client per channel (apps.core.broker)
CELERY_BROKER_TRANSPORT = ("apps.core.broker:Transport"
                           if CELERY_BROKER_URL.startswith("redis://") else None)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# socket_connect_timeout: an unreachable broker fails a send in seconds, not the OS's minutes
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_TIMEZONE = "UTC"
# A broker outage while a lead is captured: a few quick tries, then the send is dropped and
# logged (apps.core.dispatch) and the sweeper enqueues the stored lead later; the source
# already has its 202.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0,
                                    "interval_step": 0.1, "interval_max": 0.2}
# Workers ride out broker restarts: retry at start-up and for as long as the outage lasts
# (the default gives up after 100 tries and exits), and let a running auction finish
# rather than cancel it mid-post (its late ack is redelivered; the auction is idempotent).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# --- Auth, i18n, static -----------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # brute-force protection of the staff login
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours locked out after AXES_FAILURE_LIMIT failed logins
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (production values come from the environment; see README) -----------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST API ---------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.authentication.StaffTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [  # DRF's, refusing text PostgreSQL cannot store (400)
        "apps.core.unstorable.StorableJSONParser",
        "apps.core.unstorable.StorableFormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "apps.core.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "leadexchange API",
    "DESCRIPTION": "Real-time ping-post lead distribution: lead capture for sources, "
    "buyer management for staff.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI assets are served from our own static files (no CDN; works offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs open on what most readers came for: the affiliate's endpoints.
    "TAGS": [
        {"name": "Sources", "description": "For affiliates, with a source API key: submit "
         "leads, read them back, the posting spec of a vertical."},
        {"name": "Buyers", "description": "For buyers, with a buyer API key (lxb_…): return "
         "a lead you bought, read your returns."},
        {"name": "Staff", "description": "Buyer management with a staff token: buyers, "
         "contracts and their tools, sources and keys, verticals."},
        {"name": "Reports", "description": "The dashboards' KPIs as JSON (staff)."},
    ],
    "SWAGGER_UI_SETTINGS": {"docExpansion": "list", "defaultModelsExpandDepth": 0,
                            "displayOperationId": False},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "apps.core.schema.realistic_examples",
                             "apps.core.schema.storable_query_strings"],
    # Several models have a "status" field with different choices: name each set once.
    "ENUM_NAME_OVERRIDES": {
        "ActivePausedEnum": "apps.sources.models.SourceStatus",  # sources, buyers
        "ContractStatusEnum": "apps.buyers.models.ContractStatus",  # + testing
        "ConstantTypeEnum": "apps.buyers.models.ConstantType",  # constants, test flags
        "LeadStatusEnum": "apps.leads.models.LeadStatus",
        "SaleOutcomeEnum": ["sold", "unsold"],
        "SourceEventEnum": "apps.webhooks.models.SourceEvent",
        "DeliveryStatusEnum": "apps.webhooks.models.DeliveryStatus",
        "DeliveryKindEnum": "apps.webhooks.models.DeliveryKind",
        "ReturnStatusEnum": "apps.billing.models.ReturnStatus",
        "CapMetricEnum": "apps.buyers.models.rules.CapMetric",
        "RuleMetricEnum": "apps.routing.models.Metric",
    },
}

# --- Lead capture -----------------------------------------------------------------------------

LEAD_MAX_BODY_BYTES = env.int("LEAD_MAX_BODY_BYTES", default=64 * 1024)
# Same payload from the same source inside this window is a duplicate (SPEC §3).
LEAD_RESUBMIT_WINDOW_SECONDS = 60
# A request holding an Idempotency-Key waits this long for a concurrent twin to finish.
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=30.0)
IDEMPOTENCY_TTL_HOURS = 24

# --- Outbound HTTP (apps.core.http) ----------------------------------------------------------
# Buyer and webhook URLs to private, loopback, link-local or metadata addresses are refused
# unless their network is listed here (the demo and the tests allow 127.0.0.1/32).
HTTP_ALLOWED_NETWORKS = env.list("HTTP_ALLOWED_NETWORKS", default=[])
HTTP_MAX_RESPONSE_BYTES = env.int("HTTP_MAX_RESPONSE_BYTES", default=256 * 1024)

# --- The demo (make run / run_embedded) -------------------------------------------------------
# The bundled buyer simulator's port; 0: the web port + 99 when free, else any free port.
DEMO_SIMULATOR_PORT = env.int("DEMO_SIMULATOR_PORT", default=0)
# A demo lead every few seconds through the API (the live view moves); DEMO_TRAFFIC=0: none.
DEMO_TRAFFIC = env.bool("DEMO_TRAFFIC", default=True)


# --- Auction ----------------------------------------------------------------------------------
# Threads per process running auctions (sync captures wait on them for the source's budget).
AUCTION_THREADS = env.int("AUCTION_THREADS", default=64)
# Where a sync lead's auction runs while its request waits: "thread" (the web process's
# auction pool: no hop) or "celery" (a worker, which tells the waiting request through Redis
# when the outcome is recorded): web and auction capacity then scale apart, across hosts.
SYNC_AUCTION_EXECUTOR = env("SYNC_AUCTION_EXECUTOR", default="thread")
if SYNC_AUCTION_EXECUTOR not in ("thread", "celery"):
    raise ImproperlyConfigured("SYNC_AUCTION_EXECUTOR must be 'thread' or 'celery'.")
if SYNC_AUCTION_EXECUTOR == "celery" and not (CELERY_BROKER_URL and REDIS_URL):
    raise ImproperlyConfigured("SYNC_AUCTION_EXECUTOR=celery needs CELERY_BROKER_URL (the "
                               "workers) and REDIS_URL (the outcome signal).")
# Run background work (auctions, tasks without a broker) on the calling thread instead of
# the pool: for tests, where the test's own transaction must stay visible.
RUN_TASKS_INLINE = env.bool("RUN_TASKS_INLINE", default=False)
# Our own processing time kept out of the buyers' share of the budget (Prebid's tmax idea).
AUCTION_RESERVE_MS = env.int("AUCTION_RESERVE_MS", default=30)
# Share of the (budget − reserve) given to the ping phase; the rest is for posting.
AUCTION_PING_SHARE = env.float("AUCTION_PING_SHARE", default=0.6)
# The least time an auction gets, even when the capture used up the source's budget.
AUCTION_MIN_MS = env.int("AUCTION_MIN_MS", default=250)
# A secondary re-ping runs only when at least this much of the budget is left.
AUCTION_SECONDARY_MIN_MS = env.int("AUCTION_SECONDARY_MIN_MS", default=150)
# Beta prior (accepted, rejected) of a contract's post acceptance rate used in ranking.
AUCTION_ACCEPTANCE_PRIOR = (19, 1)
AUCTION_ACCEPTANCE_WINDOW_DAYS = 7
# Recency: each answered post multiplies the recent counts by this (memory ~1/(1-d) posts),
# judged against a prior of this many posts at the long prior's mean; the estimate is the
# lower of the long-run and the recent one.
AUCTION_ACCEPTANCE_RECENT_DECAY = 0.9
AUCTION_ACCEPTANCE_RECENT_PRIOR_WEIGHT = 2
POST_REALTIME_ATTEMPTS = env.int("POST_REALTIME_ATTEMPTS", default=3)
POST_REALTIME_BACKOFF_S = (0.05, 0.2)
POST_MAX_ATTEMPTS = env.int("POST_MAX_ATTEMPTS", default=8)
POST_RETRY_DELAYS_S = tuple(env.list("POST_RETRY_DELAYS_S", cast=int,
                                     default=[15, 60, 300, 900, 1800, 3600]))
POST_RETRY_LEASE_S = 120
# A lead still ``received`` this long after capture, or ``auctioning`` with nothing pending
# this long after its auction started, is re-driven by the sweeper.
LEAD_REDRIVE_RECEIVED_S = 30
LEAD_REDRIVE_AUCTIONING_S = 300
LEAD_MAX_AUCTIONS = 3  # a lead whose auction died this many times becomes ``error``

# --- Webhooks and postbacks to sources (apps.webhooks) ----------------------------------------
# Each attempt may take this long (connect, send, answer); redirects are never followed.
WEBHOOK_TIMEOUT_S = env.float("WEBHOOK_TIMEOUT_S", default=10.0)

# --- Returns and conversions (apps.billing) ------------------------------------------------
# Requests per minute per buyer API key (the returns API), and per buyer on the public
# conversion postback URL.
BUYER_API_RATE_PER_MINUTE = env.int("BUYER_API_RATE_PER_MINUTE", default=600)
BUYER_POSTBACK_RATE_PER_MINUTE = env.int("BUYER_POSTBACK_RATE_PER_MINUTE", default=1200)
# Waits after the 1st, 2nd, … failed attempt of a round: ~24 h over 11 attempts, then
# ``failed`` (a redelivery starts a new round).
WEBHOOK_RETRY_DELAYS_S = tuple(env.list(
    "WEBHOOK_RETRY_DELAYS_S", cast=int,
    default=[5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800]))
# A claimed delivery belongs to its worker this long; a worker that died leaves it to the
# due job afterwards (same webhook-id). Never shorter than the timeout plus 5 s.
WEBHOOK_LEASE_S = env.int("WEBHOOK_LEASE_S", default=60)
# An endpoint whose attempts have all failed for this long is switched off and the source's
# account manager told.
WEBHOOK_DISABLE_AFTER_S = env.int("WEBHOOK_DISABLE_AFTER_S", default=3 * 24 * 3600)
# After a secret rotation the previous secret still signs (a second signature) this long.
WEBHOOK_SECRET_GRACE_S = env.int("WEBHOOK_SECRET_GRACE_S", default=24 * 3600)
# Deliveries one run of the due job sends at once (in parallel).
WEBHOOK_BATCH = env.int("WEBHOOK_BATCH", default=50)
# Embedded default (no broker): in-process threads for deliveries, apart from the auctions'.
WEBHOOK_THREADS = env.int("WEBHOOK_THREADS", default=4)

# --- Privacy ----------------------------------------------------------------------------------
# Leads an erasure scrubs per transaction (apps.privacy.services): small enough that no batch
# holds its locks for long, large enough that millions of leads take minutes.
PRIVACY_ERASE_BATCH = env.int("PRIVACY_ERASE_BATCH", default=500)
# Embedded default: erasures run on a thread of their own, never on the auctions' threads.
PRIVACY_THREADS = 1
# An unfinished erasure with no batch done for this long lost its run and is run again.
ERASURE_STALE_SECONDS = env.int("ERASURE_STALE_SECONDS", default=300)
# Batches (of PRIVACY_ERASE_BATCH leads) one run of the retention purge scrubs at most; the
# next run, RETENTION_INTERVAL_S later, continues. The embedded default runs it on the
# scheduler's loop, between delivery retries: keep a run short.
RETENTION_MAX_BATCHES = env.int("RETENTION_MAX_BATCHES", default=10)
RETENTION_INTERVAL_S = env.float("RETENTION_INTERVAL_S", default=600.0)


class BeatEntry(TypedDict):
    """A periodic task as Celery beat and ``run_periodic`` read it: its name, every N s."""

    task: str
    schedule: float


CELERY_BEAT_SCHEDULE: dict[str, BeatEntry] = {
    "post-retries-due": {"task": "apps.auctions.tasks.post_retries_due", "schedule": 5.0},
    "webhook-deliveries-due": {"task": "apps.webhooks.tasks.webhook_deliveries_due",
                               "schedule": 5.0},
    "health-pings": {"task": "apps.auctions.tasks.health_pings", "schedule": 15.0},
    "leads-redrive": {"task": "apps.auctions.tasks.leads_redrive", "schedule": 30.0},
    "routing-rules": {"task": "apps.routing.tasks.routing_rules_evaluate", "schedule": 30.0},
    "acceptance-refresh": {"task": "apps.auctions.tasks.acceptance_refresh", "schedule": 600.0},
    "cap-holds-purge": {"task": "apps.auctions.tasks.cap_holds_purge", "schedule": 300.0},
    "oauth-tokens-refresh": {"task": "apps.buyers.tasks.oauth_tokens_refresh", "schedule": 60.0},
    "reports-rollup": {"task": "apps.reports.tasks.reports_rollup", "schedule": 60.0},
    "erasures-redrive": {"task": "apps.privacy.tasks.erasures_redrive", "schedule": 60.0},
    "pii-retention": {"task": "apps.privacy.tasks.retention_purge",
                      "schedule": RETENTION_INTERVAL_S},
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="leadexchange <noreply@localhost>")
# Seconds an SMTP connection may block (alerts are sent from tasks, never from an auction).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- Logging: key=value lines; PII never reaches them (apps.core.logging masks known keys) -----

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_pii": {"()": "apps.core.logging.MaskPiiFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_pii"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# Number of reverse proxies in front of the web tier whose X-Forwarded-For hop we trust.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Health and metrics (apps.ops; README "Health and metrics") -----------------------------
# /metrics wants `Authorization: Bearer <METRICS_TOKEN>` when set; unset, it answers only
# clients on the loopback interface (as TRUSTED_PROXY_COUNT resolves the client address).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# leadexchange_leads_recent counts the leads received in this many seconds, by status.
METRICS_LEADS_WINDOW_S = env.int("METRICS_LEADS_WINDOW_S", default=300)
# Celery workers (and the embedded scheduler, when Redis is set) beat this often; /readyz
# wants a worker beat younger than WORKER_HEARTBEAT_MAX_AGE_S once a broker is configured.
WORKER_HEARTBEAT_INTERVAL_S = env.float("WORKER_HEARTBEAT_INTERVAL_S", default=10.0)
WORKER_HEARTBEAT_MAX_AGE_S = env.float("WORKER_HEARTBEAT_MAX_AGE_S", default=60.0)
# The /readyz checks whose failure makes a process unready (503); the others are reported
# only. Web requests ride out a Redis or broker outage (README), so an operator whose load
# balancer does not fail open may keep just `database` here.
READYZ_REQUIRED = env.list("READYZ_REQUIRED", default=["database", "redis", "broker", "worker"])
