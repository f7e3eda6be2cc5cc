"""Secret masking and terminal-safe text: everything a service says passes through here.

Probe output, log lines, exports and issue texts are shown to operators, pasted into
tickets and written to files. Services happily echo their configuration (`DB_PASSWORD=...`,
`redis://:pass@redis:6379`, `Authorization: Bearer eyJ...`), so the console masks such
values before anything is displayed or stored. Masking errs on the side of hiding: a
harmless value under a key named like `*key*` is masked too, because a leaked secret costs
far more than a hidden counter. Masking is idempotent (`***` stays `***`).

This module is THE boundary for untrusted text (a service, a container, a log, a health
body, a workflow, a Kubernetes object, a user's file): `safe_str` for plain outputs (CLI
lines, Markdown, JSON, files) and `safe_text` for Rich/Textual (a `Text`, never markup).
Both decode invalid UTF-8 with replacement characters, drop escape sequences and control
characters (OSC titles, clipboard writes, hyperlinks, screen clears, BEL, NUL), bound very
long lines with a marker saying how much was cut, then mask secrets.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from typing import Any, TextIO

from rich.style import Style
from rich.text import Text

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

# scheme://user:password@host -> scheme://user:***@host (the scheme starts a word: linear)
_URL_USERINFO_RE = re.compile(
    r"(?P<head>(?<![A-Za-z0-9+.\-])[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)"
    r"(?P<pw>[^@/\s]+)(?P<at>@)"
)
# Bearer / Basic / Token credentials anywhere in a line, not only after `Authorization:`.
# `_looks_like_credential` decides, so "Basic authentication required" stays readable.
_AUTH_SCHEME_RE = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Token)[ \t]+(?P<cred>[A-Za-z0-9._~+/=\-]{6,})", re.IGNORECASE
)
# A bare JSON Web Token: three base64url parts, the first one `{"` encoded (eyJ).
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")
# key=value, key: value, "key": "value", KEY='value' (env files, JSON, YAML, DSNs, queries).
# A key starts a word (the lookbehind; `--password=` keeps its dashes): without it, a long
# word such as `a-a-a-...` is tried from each of its positions, which is quadratic.
_KEY_VALUE_RE = re.compile(
    r"""(?<![A-Za-z0-9_.\-])(?P<q>["']?)(?P<key>-{0,2}[A-Za-z0-9_][A-Za-z0-9_.\-]*)(?P=q)"""
    r"""(?P<sep>[ \t]*[:=][ \t]*)"""
    r"""(?P<val>(?:Bearer|Basic|Token)[ \t]+\S+|"[^"\n]*"|'[^'\n]*'|\$\{[^}\n]*\}"""
    r"""|[^\s,;&"'}\])]+)"""
)
# --password VALUE (command lines); --password=VALUE is handled by _KEY_VALUE_RE.
_FLAG_RE = re.compile(
    r"(?<![\w\-])(?P<flag>--?(?P<key>[A-Za-z][A-Za-z0-9_\-]*))(?P<sep>[ \t]+)(?P<val>[^\s\-]\S*)"
)

# The secrets scanner's review form of a value (`actions.secrets.mask_value`: at most two
# characters and the length, `re…(14)`): already masked, so masking again keeps it readable.
_PREVIEW_RE = re.compile(r"^\[?[^\s…[]{0,2}…\(\d+\)?\]?$")  # `)` or `]` may end the match
# Values that are references to secrets, not secrets: ${POSTGRES_PASSWORD}, $REDIS_PASSWORD.
_REFERENCE_RE = re.compile(r"""^["']?(?:\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)?["']?$""")

# Escape sequences, dropped whole (not just the ESC): CSI (colours, cursor moves, `2J`), OSC
# to BEL or ST (titles, OSC 8 links, OSC 52 clipboard writes), DCS/SOS/PM/APC strings, and
# two-byte escapes. An unterminated string runs to the end of the text.
_ANSI_RE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|.)?",
    re.DOTALL,
)
# C0 and C1 controls (tab and line feed are decided by the caller), DEL, bidi overrides and
# marks, and lone surrogates (undecodable bytes smuggled through `surrogateescape`).
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

LINE_LIMIT = 2000  # characters of one line shown or written; the rest is counted, not kept
_SPACES_RE = re.compile(r"[ \t]+")


# Every pattern `mask_secrets` masks needs one of these (lower-cased) in the line: a key
# named like a secret (password, pwd, secret, token, *key*, jwt, credential, authorization,
# masterauth, *pass), a Bearer/Basic/Token scheme, a JWT (eyJ...) or a URL with userinfo.
# Checking them costs ~1 µs where the full masker costs ~25 µs, and most log lines hold
# none, which is what lets 40 streams flow at 100,000 lines/s. tests/unit/test_logbuffer.py
# holds this list against the masker's cases; extend both together.
_SECRET_HINTS = (
    "pass", "pwd", "secret", "token", "key", "jwt", "credential", "authoriz",
    "masterauth", "bearer", "basic", "eyj", "://",
)  # fmt: skip


def may_hold_secret(text: str) -> bool:
    """Cheap, conservative test: False only when `mask_secrets` cannot change the text.

    Text that is not ASCII always takes the full path: the patterns ignore case the Unicode
    way (U+017F long s matches `s`, the Kelvin sign matches `k`), which `lower()` does not,
    so `Basic` spelled with a long s slipped past the hints with its credential unmasked."""
    if not text.isascii():
        return True
    lowered = text.lower()
    for hint in _SECRET_HINTS:  # noqa: SIM110 - a plain loop costs half of any(generator)
        if hint in lowered:
            return True
    return False


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
    if not text or not may_hold_secret(text):
        return text
    text = _URL_USERINFO_RE.sub(_mask_url, text)
    text = _AUTH_SCHEME_RE.sub(_mask_auth_scheme, text)
    text = _JWT_RE.sub(MASK, text)
    text = _KEY_VALUE_RE.sub(_mask_key_value, text)
    return _FLAG_RE.sub(_mask_flag, text)


def terminal_safe(value: object, *, multiline: bool = False) -> str:
    """`value` as text that cannot drive a terminal; not masked (see `safe_str`).

    Bytes are decoded as UTF-8 with replacement characters, lone surrogates become U+FFFD,
    escape sequences and control characters are dropped. Tabs stay; line breaks stay when
    `multiline`, otherwise they become spaces. Carriage
    returns go: a bare CR lets a line overwrite what the operator already read.
    """
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = value if isinstance(value, str) else str(value)
    if text.isascii() and text.isprintable():  # the common case costs one scan
        return text
    text = _ANSI_RE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "")
    if not multiline:
        text = text.replace("\n", " ")
    text = _CONTROL_RE.sub("", text)
    return _SURROGATE_RE.sub("\ufffd", text)


def bound(text: str, limit: int = LINE_LIMIT) -> str:
    """`text` cut to `limit` characters per line, with a marker saying how many were cut."""
    if len(text) <= limit:
        return text
    if "\n" in text:
        return "\n".join(bound(line, limit) for line in text.split("\n"))
    return text[:limit] + truncation_marker(len(text) - limit)


def truncation_marker(dropped: int) -> str:
    return f"… [truncated {dropped:,} chars]"


def safe_str(
    value: object, limit: int = LINE_LIMIT, *, multiline: bool = False, mask: bool = True
) -> str:
    """Untrusted text made fit for any plain output: terminal-safe, bounded, masked.

    Masks before the final cut (a cut can never separate a key from its value), and only
    looks at a bounded prefix of a single line, so a megabyte body costs no more than a
    long one. `mask=False` only where the operator asked to see a secret (`--reveal`).
    """
    text = terminal_safe(value, multiline=multiline)
    if multiline and "\n" in text:
        return "\n".join(_safe_line(line, limit, mask) for line in text.split("\n"))
    return _safe_line(text, limit, mask)


def _safe_line(text: str, limit: int, mask: bool) -> str:
    """One clean line: cut to a bounded prefix, masked, then cut to `limit` with a marker."""
    keep = 2 * limit + 256
    dropped = max(0, len(text) - keep)
    if dropped:
        text = text[:keep]
    if mask:
        text = mask_secrets(text)
    if dropped or len(text) > limit:
        return text[:limit] + truncation_marker(dropped + len(text) - limit)
    return text


def safe_text(
    value: object,
    limit: int = LINE_LIMIT,
    *,
    style: str | Style = "",
    multiline: bool = False,
    mask: bool = True,
) -> Text:
    """`safe_str` as a Rich `Text`: shown literally by Rich and Textual, never parsed as
    markup, so `[/oops]` cannot crash a view and `[link=...]` cannot become a link."""
    return Text(safe_str(value, limit, multiline=multiline, mask=mask), style=style)


def safe_json(data: Any, limit: int = 4 * LINE_LIMIT) -> Any:
    """A JSON-ready value with every string (keys too) passed through `safe_str`.

    `json.dumps` escapes C0 controls but not C1 ones or bidi overrides, and masks nothing.
    """
    if isinstance(data, str):
        return safe_str(data, limit, multiline=True)
    if isinstance(data, dict):
        return {safe_json(k, limit) if isinstance(k, str) else k: safe_json(v, limit)
                for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [safe_json(v, limit) for v in data]
    return data


def echo(
    *parts: object, file: TextIO | None = None, flush: bool = False, mask: bool = True
) -> None:
    """`print` for the CLI: every line crosses the boundary (`safe_str`, multi-line).

    `mask=False` only for what the operator asked to see or must paste as is (`--reveal`,
    a generated script or snippet); it is still made terminal-safe.
    """
    text = " ".join(p if isinstance(p, str) else str(p) for p in parts)
    print(safe_str(text, multiline=True, mask=mask), file=file or sys.stdout, flush=flush)


def strip_control(text: str) -> str:
    """One terminal-safe line with runs of whitespace collapsed; not masked."""
    return _SPACES_RE.sub(" ", terminal_safe(text).replace("\t", " ")).strip()


def sanitize(text: str, limit: int = 500) -> str:
    """Terminal-safe, secret-masked one-line excerpt of at most `limit` characters.

    Masks before truncating (so a cut can never split a key from its value and leak the
    value), and only looks at a bounded prefix so a megabyte body costs nothing.
    """
    if not text:
        return ""
    cleaned = mask_secrets(strip_control(text[: limit * 4 + 256]))
    if len(cleaned) <= limit:
        return cleaned
    return cleaned[: limit - 1].rstrip() + "…"


def _mask_auth_scheme(m: re.Match[str]) -> str:
    if not _looks_like_credential(m["scheme"], m["cred"]):
        return m.group(0)
    return f"{m['scheme']} {MASK}"


def _looks_like_credential(scheme: str, cred: str) -> bool:
    """A digit or symbol, mixed case, a long run, or base64 of `user:pass` after Basic.

    English words after the scheme ("Basic authentication", "bearer tokens") stay.
    """
    if any(not c.isalpha() for c in cred) or len(cred) >= 20:
        return True
    if any(c.isupper() for c in cred[1:]):
        return True
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(cred + "=" * (-len(cred) % 4), validate=True)
        except (binascii.Error, ValueError):
            return False
        return b":" in decoded
    return False


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
    if (_REFERENCE_RE.match(value) or value in ("null", "None", MASK) or set(value) <= {"*"}
            or _PREVIEW_RE.match(value)):
        return value
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return f"{value[0]}{MASK}{value[0]}"
    return MASK
