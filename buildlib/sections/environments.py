"""The `environments:` section: the dev, test and prod value sets, each with its build profile."""

from __future__ import annotations

from ..schema import Bool, Field, Int, MapOf, Nullable, Record, Str

LOG_LEVELS = ("debug", "info", "warn", "error")
# The values every environment sets; they are typed here, so a mistake is
# caught when build.yaml is read rather than when the service starts.
TYPED_KEYS = ("LOG_LEVEL", "ENABLE_CACHE", "API_TIMEOUT_MS")


def _log_level(value: str) -> str | None:
    if value.lower() in LOG_LEVELS:
        return None
    return f"not a log level; allowed: {', '.join(LOG_LEVELS)} (any case)"


_ENVIRONMENT = Record(
    cls=dict,
    fields={
        "profile": Field(Nullable(Str()), default=None),
        # The template service's own settings: typed when written, left out of the env file when not.
        "LOG_LEVEL": Field(Nullable(Str(check=_log_level)), default=None),
        "ENABLE_CACHE": Field(Nullable(Bool()), default=None),
        "API_TIMEOUT_MS": Field(Nullable(Int(min=1, max=3_600_000)), default=None),
        "env": Field(
            MapOf(Str(), key_pattern=r"[A-Z_][A-Z0-9_]*", key_help="an environment variable name (A-Z, 0-9, _)"),
            factory=dict,
        ),
    },
)

# The guide's table; used when build.yaml has no environments section.
DEFAULTS: dict[str, dict[str, object]] = {
    "dev": {"profile": "dev", "LOG_LEVEL": "debug", "ENABLE_CACHE": False, "API_TIMEOUT_MS": 5000,
            "env": {"GIN_MODE": "debug"}},
    "test": {"profile": "release", "LOG_LEVEL": "info", "ENABLE_CACHE": True, "API_TIMEOUT_MS": 3000,
             "env": {"GIN_MODE": "release"}},
    "prod": {"profile": "release", "LOG_LEVEL": "error", "ENABLE_CACHE": True, "API_TIMEOUT_MS": 2000,
             "env": {"GIN_MODE": "release"}},
}

SECTION = Field(
    MapOf(_ENVIRONMENT, key_pattern=r"[a-z][a-z0-9-]*", key_help="a lower-case name such as dev or prod",
          min_len=1),
    factory=lambda: {k: {**v, "env": dict(v["env"])} for k, v in DEFAULTS.items()},  # type: ignore[arg-type]
)
