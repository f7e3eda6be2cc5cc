"""Secret masking and terminal-safe text: everything a service says passes through here.

Probe output, log lines, exports and issue texts are shown to operators, pasted into
tickets and written to files. Services happily echo their configuration (`DB_PASSWORD=...`,
`redis://:pass@redis:6379`, `Authorization: Bearer eyJ...`), so the console masks such
values before anything is displayed or stored. Masking errs on the side of hiding: a
harmless value under a key named like `*key*` is masked too, because a leaked secret costs
far more than a hidden counter. Masking is idempotent (`***` stays `***`).
"""

from __future__ import annotations

import re
import unicodedata

MASK = "***"

# Words that make a key sensitive wherever they occur in it (DB_PASSWORD, apiKey, JWT_SECRET).
_SENSITIVE_STEMS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "key",
    "jwt",
    "credential",
    "authorization",
    "requirepass",
    "masterauth",
)
# `pass` only as the last word of a key (DB_PASS, smtp-pass), so "passed=3" is left alone.
_PASS_SUFFIX_RE = re.compile(r"(?:^|[_.\-])pass$", re.IGNORECASE)

# scheme://user:password@host -> scheme://user:***@host
_URL_USERINFO_RE = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@/\s]+)(?P<at>@)"
)
# Bearer / Basic / Token credentials in headers and logs.
# The credential must look like one (a digit or symbol in it), so "Basic authentication" stays.
_AUTH_SCHEME_RE = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Token)[ \t]+"
    r"(?P<cred>(?=[A-Za-z0-9._~+/=\-]*[0-9._~+/=\-])[A-Za-z0-9._~+/=\-]{6,})"
)
# A bare JSON Web Token: three base64url parts, the first one `{"` encoded (eyJ).
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")
# key=value, key: value, "key": "value", KEY='value' (env files, JSON, YAML, DSNs, queries).
_KEY_VALUE_RE = re.compile(
    r"""(?P<q>["']?)(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)(?P=q)(?P<sep>[ \t]*[:=][ \t]*)"""
    r"""(?P<val>(?:Bearer|Basic|Token)[ \t]+\S+|"[^"\n]*"|'[^'\n]*'|\$\{[^}\n]*\}"""
    r"""|[^\s,;&"'}\])]+)"""
)
# --password VALUE (command lines); --password=VALUE is handled by _KEY_VALUE_RE.
_FLAG_RE = re.compile(
    r"(?<![\w\-])(?P<flag>--?(?P<key>[A-Za-z][A-Za-z0-9_\-]*))(?P<sep>[ \t]+)(?P<val>[^\s\-]\S*)"
)

# Values that are references to secrets, not secrets: ${POSTGRES_PASSWORD}, $REDIS_PASSWORD.
_REFERENCE_RE = re.compile(r"""^["']?(?:\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)?["']?$""")

# Bidirectional-override characters can make a terminal show text in a misleading order.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# ANSI escape sequences (colours, cursor moves, OSC titles): dropped whole, not just the ESC.
_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])")
_SPACES_RE = re.compile(r"[ \t]+")


def is_sensitive_key(key: str) -> bool:
    """True when a key's name says its value is a secret (password, token, api key, ...)."""
    lowered = key.lower()
    return any(stem in lowered for stem in _SENSITIVE_STEMS) or bool(_PASS_SUFFIX_RE.search(key))


def mask_secrets(text: str) -> str:
    """Replace secret values in free text with `***`, keeping the keys so context survives.

    Masks: values of sensitive keys (`password=`, `"apiKey": "..."`, `JWT_SECRET: ...`,
    `--requirepass x`), passwords in URLs (`postgres://u:p@h` -> `postgres://u:***@h`),
    Bearer/Basic credentials and bare JWTs. References such as `${POSTGRES_PASSWORD}` are
    kept: they name a secret without revealing it.
    """
    if not text:
        return text
    text = _URL_USERINFO_RE.sub(_mask_url, text)
    text = _AUTH_SCHEME_RE.sub(lambda m: f"{m['scheme']} {MASK}", text)
    text = _JWT_RE.sub(MASK, text)
    text = _KEY_VALUE_RE.sub(_mask_key_value, text)
    return _FLAG_RE.sub(_mask_flag, text)


def strip_control(text: str) -> str:
    """One terminal-safe line: no ANSI escapes, control or bidi characters, no line breaks.

    Service output lands in table cells and log panes; a stray escape sequence or carriage
    return would repaint the operator's terminal, so they are removed and line breaks and
    tabs become single spaces.
    """
    text = _ANSI_RE.sub("", text)
    out: list[str] = []
    for ch in text:
        if ch in "\n\r\t\v\f":
            out.append(" ")
        elif ch in _BIDI_CONTROLS or unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return _SPACES_RE.sub(" ", "".join(out)).strip()


def sanitize(text: str, limit: int = 500) -> str:
    """Terminal-safe, secret-masked excerpt of at most `limit` characters.

    Masks before truncating (so a cut can never split a key from its value and leak the
    value), and only looks at a bounded prefix so a megabyte body costs nothing.
    """
    if not text:
        return ""
    cleaned = mask_secrets(strip_control(text[: limit * 4 + 256]))
    if len(cleaned) <= limit:
        return cleaned
    return cleaned[: limit - 1].rstrip() + "…"


def _mask_url(m: re.Match[str]) -> str:
    return f"{m['head']}{MASK}{m['at']}"


def _mask_key_value(m: re.Match[str]) -> str:
    if not is_sensitive_key(m["key"]):
        # `status: password=x`: the harmless key's "value" may hide the real pair.
        head = m.group(0)[: m.start("val") - m.start()]
        return head + _KEY_VALUE_RE.sub(_mask_key_value, m["val"])
    return f"{m['q']}{m['key']}{m['q']}{m['sep']}{_masked_value(m['val'])}"


def _mask_flag(m: re.Match[str]) -> str:
    if not is_sensitive_key(m["key"]):
        return m.group(0)
    return f"{m['flag']}{m['sep']}{_masked_value(m['val'])}"


def _masked_value(value: str) -> str:
    """`***` in place of the value, keeping quotes; references and `null` stay readable."""
    if _REFERENCE_RE.match(value) or value in ("null", "None", MASK) or set(value) <= {"*"}:
        return value
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return f"{value[0]}{MASK}{value[0]}"
    return MASK
