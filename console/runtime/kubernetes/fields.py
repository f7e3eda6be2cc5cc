"""Reading API objects as the JSON they are: a missing or null level is an empty dict."""


def d(obj: object, *keys: str) -> dict:
    """Nested dict lookup that treats a missing or null level as {}."""
    cur = obj
    for key in keys:
        cur = cur.get(key) if isinstance(cur, dict) else None
    return cur if isinstance(cur, dict) else {}


def meta(obj: object) -> dict:
    return d(obj, "metadata")
