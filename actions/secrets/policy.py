"""The vocabulary shared by `secrets scan | generate | apply`.

Which names hold secrets, which values are known defaults, how a value is shown without
being revealed, and which environment variable a hardcoded secret should become. The three
actions must agree on all of it: `generate` writes exactly the variables `apply` will
reference, and `scan` reports in the same terms. Nothing here reads or writes files.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from actions.base import ActionError

# Seed 002, "2.1 Secrets Management": the .env.production every Vextrus deployment needs,
# in the seed's order and grouping (the generated file keeps that layout).
SEED_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Database", ("POSTGRES_PASSWORD", "DATABASE_PASSWORD")),
    ("Redis", ("REDIS_PASSWORD",)),
    ("JWT", ("JWT_SECRET",)),
    ("Services", ("MINIO_ROOT_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "RABBITMQ_DEFAULT_PASS")),
)
SEED_SECRETS: tuple[str, ...] = tuple(name for _, names in SEED_GROUPS for name in names)
# Seed 002: "DATABASE_PASSWORD=<same-as-above>". The services log in with DATABASE_PASSWORD
# to the server initialised with POSTGRES_PASSWORD, so the two must never drift apart.
POSTGRES_PAIR: tuple[str, str] = ("POSTGRES_PASSWORD", "DATABASE_PASSWORD")
# Seed 002: "JWT_SECRET=<generate-256-bit-key>".
KEY_BYTES: dict[str, int] = {"JWT_SECRET": 32}

# Values operators leave in place from tutorials and dev setups (seeds 003 and 004 name the
# Vextrus ones). Matched case-insensitively.
KNOWN_DEFAULTS = frozenset({
    "postgres", "minio123", "minioadmin", "changeme", "change_me", "admin", "password",
    "secret", "guest", "vextrus_dev_2024", "vextrus_grafana_2024",
})
# The subset that is a secret wherever it appears. `postgres`, `admin` and `guest` are also
# image names, user names and host names, so they count only where a secret is expected.
DISTINCTIVE_DEFAULTS = frozenset({
    "minio123", "minioadmin", "changeme", "change_me", "vextrus_dev_2024",
    "vextrus_grafana_2024",
})

# Compose names whose seed variable is spelled differently.
ALIASES: dict[str, str] = {
    "GF_SECURITY_ADMIN_PASSWORD": "GRAFANA_ADMIN_PASSWORD",
    "PGPASSWORD": "POSTGRES_PASSWORD",
}
# A password inside a URL belongs to the server the scheme names.
SCHEME_VARIABLES: dict[str, str] = {
    "postgres": "POSTGRES_PASSWORD",
    "postgresql": "POSTGRES_PASSWORD",
    "redis": "REDIS_PASSWORD",
    "rediss": "REDIS_PASSWORD",
    "amqp": "RABBITMQ_DEFAULT_PASS",
    "amqps": "RABBITMQ_DEFAULT_PASS",
}

# *_PASSWORD, *_PASS, *_SECRET, *_TOKEN, *_KEY (so *_ACCESS_KEY too), *_PWD; also PGPASSWORD
# and camelCase (apiKey, dbPassword) and the bare words. Not PWD alone: that is the shell's
# working directory. Not *_FILE: those name a file that holds the secret (the right way).
_SECRET_NAME_RE = re.compile(
    r"(?:password|passwd|secret|token)$|(?:^|[_.\-])(?:pass|key)$|[_.\-]pwd$", re.IGNORECASE
)
_CAMEL_SECRET_RE = re.compile(r"[a-z0-9](?:Password|Passwd|Secret|Token|Key|Pass|Pwd)$")
# Option names without a *_PASS-style ending that still take a password.
_SECRET_FLAGS = frozenset({"requirepass", "masterauth"})

ENTROPY_MIN_LENGTH = 20
HEX_ENTROPY = 3.0  # bits per character; random hex averages 3.6 over 32 characters
# The entropy a long token must reach. 4.5 (the usual base64 threshold) missed 1 in 200 of
# the 43-character keys `secrets generate` makes (their entropy spreads down to ~4.4); at
# 4.3 it misses about 1 in 25,000, and readable names stay far below it (~3.5-4.1).
MAX_ENTROPY = 4.3
NO_DIGIT_MIN_LENGTH = 40  # base64 of 32+ bytes may lack a digit (1 in 1,500): long enough


class SecretsError(ActionError):
    """Bad input for a secrets action (missing file, not YAML, ...); one line naming it."""


def is_secret_name(name: str) -> bool:
    """True when a variable or key name says it holds a secret (the scan's key rule)."""
    name = name.strip().strip("\"'")
    return bool(_SECRET_NAME_RE.search(name) or _CAMEL_SECRET_RE.search(name))


def is_secret_flag(flag: str) -> bool:
    """True for command-line options that take a secret (`--requirepass`, `--api-key`)."""
    bare = flag.lstrip("-").lower()
    return bare in _SECRET_FLAGS or is_secret_name(bare.replace("-", "_"))


def is_identifier_name(name: str) -> bool:
    """`MINIO_ACCESS_KEY`, `AWS_ACCESS_KEY_ID`: scanned as secrets, but an access key id is
    a user name, so its length is no weakness."""
    return bool(re.search(r"access_key(?:_id)?$", name, re.IGNORECASE))


def is_known_default(value: str) -> bool:
    return value.strip().lower() in KNOWN_DEFAULTS


def mask_value(value: str) -> str:
    """Enough to recognise a value in a review (its start and length), never the value.

    Short values show fewer characters: two characters of a five-character password would
    give away too much of it.
    """
    n = len(value)
    shown = 2 if n >= 12 else 1 if n >= 6 else 0
    return f"{value[:shown]}…({n})"


def shannon_entropy(text: str) -> float:
    """Bits per character of `text` by its own character frequencies."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def looks_random(token: str) -> bool:
    """True for a token that is most likely a generated key rather than a name or a path.

    Hex (digests, keys) is judged on its own scale. Other tokens must mix upper case, lower
    case and digits (a long one may lack the digits), as base64 does and identifiers rarely
    do, and reach an entropy close to what a random token of that length reaches (long
    readable names stay below it).
    """
    if len(token) < ENTROPY_MIN_LENGTH:
        return False
    has_digit = any(c.isdigit() for c in token)
    if re.fullmatch(r"[0-9a-f]+|[0-9A-F]+", token):
        return has_digit and any(c.isalpha() for c in token) and (
            shannon_entropy(token) >= HEX_ENTROPY)
    if not (any(c.islower() for c in token) and any(c.isupper() for c in token)):
        return False
    if not has_digit and len(token) < NO_DIGIT_MIN_LENGTH:
        return False
    return shannon_entropy(token) >= min(MAX_ENTROPY, 0.85 * math.log2(len(token)))


def canonical_name(key: str) -> str:
    """The environment variable a secret under `key` should live in."""
    upper = re.sub(r"[^A-Za-z0-9_]", "_", key.strip()).upper()
    return ALIASES.get(upper, upper)


def service_prefixed(service: str, name: str) -> str:
    """`temporal-postgres` + `POSTGRES_PASSWORD` -> `TEMPORAL_POSTGRES_PASSWORD`.

    Used when two services hold different values under the same name: the words the
    service name and the variable share are not repeated.
    """
    words = [w for w in re.split(r"[^A-Za-z0-9]+", service.upper()) if w]
    parts = name.split("_")
    for overlap in range(min(len(words), len(parts)), 0, -1):
        if words[-overlap:] == parts[:overlap]:
            return "_".join(words + parts[overlap:])
    return "_".join([*words, *parts]) if words else name


def seed_rank(name: str) -> int:
    """Seed variables first, in the seed's order; anything else after them."""
    return SEED_SECRETS.index(name) if name in SEED_SECRETS else len(SEED_SECRETS)
