"""The workflows screen's one-line filter: `status:running type:InvoiceApproval po-2025`.

Words are `key:value` (status, type, id) or a bare workflow id; `q:` takes the rest of the
line as a visibility query. One line to type, k9s-style, and it reads back the same way.
"""

from __future__ import annotations

from console.temporal.types import STATUSES, ListFilter, TemporalError

KEYS = ("status", "type", "id")


def parse_filter(text: str) -> ListFilter:
    """Parse the filter line; a mistake is one line naming the word at fault."""
    text = text.strip()
    query = None
    head, sep, rest = text.partition("q:")
    if sep and (not head or head.endswith(" ")):
        text, query = head.strip(), rest.strip() or None
    values: dict[str, str] = {}
    for word in text.split():
        key, colon, value = word.partition(":")
        if not colon:
            key, value = "id", word
        if key not in KEYS or not value:
            raise TemporalError(f"filter: {word!r}: use status:, type:, id: or q: (query)")
        if key in values:
            raise TemporalError(f"filter: {key}: given twice")
        values[key] = value
    status = values.get("status")
    if status is not None and status not in STATUSES:
        raise TemporalError(f"filter: status {status!r} is not one of {', '.join(STATUSES)}")
    return ListFilter(status=status, type=values.get("type"), workflow_id=values.get("id"),
                      query=query)


def format_filter(flt: ListFilter) -> str:
    parts = [f"{k}:{v}" for k, v in (("status", flt.status), ("type", flt.type),
                                      ("id", flt.workflow_id)) if v]  # fmt: skip
    if flt.query:
        parts.append(f"q:{flt.query}")
    return " ".join(parts)
