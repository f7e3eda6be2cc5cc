"""`secrets scan` walking a compose file: which node each finding comes from.

Guards the compose walker (`scan_compose_text` and its `_ComposeScanner`): the service and
line a finding names, anchors and aliases reported once where they are written, lists of
mappings and nested lists, the `${NAME}` references collected for `generate`, the repeats
of a secret found by the review pass, and the line-by-line scan of a broken `.bak` copy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actions.secrets.apply import rewrite_compose
from actions.secrets.scan import (
    Finding,
    ScanTarget,
    assign_variables,
    scan_compose_text,
    scan_target,
)

PW = "Xq7vLm2pR9wzT4"  # a generated-looking password, not a known default
PW_MASK = "Xq…(14)"


def scan(text: str) -> list[Finding]:
    return scan_compose_text(text, "docker-compose.yml").findings


def described(findings: list[Finding]) -> list[tuple[int, str]]:
    return [(f.line, f.describe()) for f in findings]


def variables(text: str) -> list[tuple[str, int]]:
    """The variable each secret becomes and how many places share it."""
    return [(a.variable, len(a.findings)) for a in assign_variables(scan(text))]


# --- which service a finding names -------------------------------------------------------------


def test_findings_name_the_service_they_belong_to() -> None:
    """Mapping values, `KEY=value` list items and exec-form arguments alike."""
    text = (
        "services:\n"
        "  postgres:\n"
        "    environment:\n"
        "      POSTGRES_PASSWORD: vextrus_dev_2024\n"
        "  minio:\n"
        "    environment:\n"
        f"      - MINIO_ROOT_PASSWORD={PW}\n"
        "  redis:\n"
        "    command: [\"redis-server\", \"--requirepass\", \"redis_dev_2024\"]\n"
    )
    found = scan(text)
    assert described(found) == [
        (4, "POSTGRES_PASSWORD (service postgres): hardcoded secret, known default [ve…(16)]"),
        (7, f"MINIO_ROOT_PASSWORD (service minio): hardcoded secret [{PW_MASK}]"),
        (9, "command (service redis): hardcoded secret after --requirepass [re…(14)]"),
    ]
    assert [f.to_dict()["service"] for f in found] == ["postgres", "minio", "redis"]


def test_a_secret_in_a_top_level_extension_names_no_service() -> None:
    text = (
        "x-redis-auth: &redis-auth\n"
        "  REDIS_HOST: redis\n"
        "  REDIS_PASSWORD: redis_dev_2024\n"
        "services:\n"
        "  auth:\n"
        "    environment:\n"
        "      <<: *redis-auth\n"
    )
    found = scan(text)
    assert described(found) == [(3, "REDIS_PASSWORD: hardcoded secret [re…(14)]")]
    assert found[0].service == ""
    assert [a.variable for a in assign_variables(found)] == ["REDIS_PASSWORD"]


def test_same_key_with_different_values_gets_service_prefixed_variables() -> None:
    """postgres and temporal-postgres both set POSTGRES_PASSWORD, to different values."""
    text = (
        "services:\n"
        "  postgres:\n"
        "    environment:\n"
        "      POSTGRES_PASSWORD: Zr8kWq3nL5pT\n"
        "  temporal-postgres:\n"
        "    environment:\n"
        f"      POSTGRES_PASSWORD: {PW}\n"
    )
    assert variables(text) == [("POSTGRES_PASSWORD", 1), ("TEMPORAL_POSTGRES_PASSWORD", 1)]


def test_same_key_in_environment_lists_gets_service_prefixed_variables() -> None:
    text = (
        "services:\n"
        "  auth:\n"
        "    environment:\n"
        "      - DB_PASSWORD=Zr8kWq3nL5pT\n"
        "  finance:\n"
        "    environment:\n"
        f"      - DB_PASSWORD={PW}\n"
    )
    assert variables(text) == [("DB_PASSWORD", 1), ("FINANCE_DB_PASSWORD", 1)]


def test_same_build_arg_in_two_services_gets_service_prefixed_variables() -> None:
    text = (
        "services:\n"
        "  auth:\n"
        "    build:\n"
        "      context: ./services/auth\n"
        "      args:\n"
        "        - NPM_TOKEN=Zr8kWq3nL5pT\n"
        "  finance:\n"
        "    build:\n"
        "      context: ./services/finance\n"
        "      args:\n"
        f"        - NPM_TOKEN={PW}\n"
    )
    assert variables(text) == [("NPM_TOKEN", 1), ("FINANCE_NPM_TOKEN", 1)]


def test_an_exec_form_secret_option_is_named_after_the_service() -> None:
    text = (
        "services:\n"
        "  keycloak:\n"
        f"    command: [\"start-dev\", \"--db-password\", \"{PW}\"]\n"
    )
    assert variables(text) == [("KEYCLOAK_DB_PASSWORD", 1)]


@pytest.mark.parametrize(("lines", "key", "line"), [
    (["    environment:", "      - DATABASE_URL=postgres://vextrus:{pw}@postgres:5432/vextrus"],
     "DATABASE_URL", 4),
    (["    command: [\"migrate\", \"--url\", \"postgres://vextrus:{pw}@postgres:5432/vextrus\"]"],
     "command", 3),
    (["    build:", "      context: .", "      args:",
      "        - DATABASE_URL=postgres://vextrus:{pw}@postgres:5432/vextrus"], "args", 6),
], ids=["environment-list", "exec-form", "build-args"])
def test_a_password_in_a_url_inside_a_list_is_found(lines: list[str], key: str,
                                                    line: int) -> None:
    text = "services:\n  auth:\n" + "\n".join(lines).replace("{pw}", PW) + "\n"
    found = scan(text)
    assert described(found) == [(line, f"{key} (service auth): password in a URL [{PW_MASK}]")]
    assert [a.variable for a in assign_variables(found)] == ["POSTGRES_PASSWORD"]


# --- lists of mappings and nested lists ----------------------------------------------------------


def test_mappings_inside_a_list_are_walked_item_by_item() -> None:
    """Each target's own key and line; the second item is not skipped after the first."""
    text = (
        "services:\n"
        "  backup:\n"
        "    image: vextrus/pg-backup:1.4\n"
        "    x-targets:\n"
        "      - name: primary\n"
        f"        url: postgres://vextrus:{PW}@postgres:5432/vextrus\n"
        "        tables: [users, roles]\n"
        "      - name: replica\n"
        "        url: postgres://vextrus:Zr8kWq3nL5pT@postgres-replica:5432/vextrus\n"
        "        tables: [ledger]\n"
    )
    assert described(scan(text)) == [
        (6, f"url (service backup): password in a URL [{PW_MASK}]"),
        (9, "url (service backup): password in a URL [Zr…(12)]"),
    ]


def test_an_item_of_a_nested_list_is_named_by_its_index() -> None:
    text = (
        "x-pools:\n"
        f"  - - postgres://vextrus:{PW}@postgres:5432/vextrus\n"
        "services:\n"
        "  web:\n"
        "    image: nginx:1.25\n"
    )
    assert described(scan(text)) == [(2, f"0: password in a URL [{PW_MASK}]")]


def test_a_secret_under_a_non_string_key_is_reported_without_a_key_name() -> None:
    """A complex key (`? [a]`) is not turned into a Python repr in the report."""
    text = (
        "services:\n"
        "  auth:\n"
        "    x-meta:\n"
        "      ? [primary]\n"
        f"      : postgres://vextrus:{PW}@postgres:5432/vextrus\n"
    )
    found = scan(text)
    assert [(f.line, f.key, f.kind) for f in found] == [(5, "", "url")]
    assert found[0].describe() == f" (service auth): password in a URL [{PW_MASK}]"


def test_an_image_tagged_with_a_commit_hash_is_not_a_finding() -> None:
    text = (
        "services:\n"
        "  auth:\n"
        "    image: ghcr.io/vextrus/auth:3f9a2c7e1b8d4f6a9c0e2b4d6f8a1c3e\n"
        "    environment:\n"
        "      NODE_ENV: development\n"
    )
    assert scan(text) == []


# --- anchors and aliases: reported once, where written -------------------------------------------


def test_an_anchored_environment_list_shared_by_two_services_is_reported_once() -> None:
    text = (
        "services:\n"
        "  temporal:\n"
        "    environment: &temporal-env\n"
        "      - POSTGRES_USER=vextrus\n"
        f"      - POSTGRES_PWD={PW}\n"
        "  temporal-worker:\n"
        "    environment: *temporal-env\n"
    )
    assert described(scan(text)) == [
        (5, f"POSTGRES_PWD (service temporal): hardcoded secret [{PW_MASK}]")]


def test_an_anchored_argument_is_reported_where_it_is_written_not_where_aliased() -> None:
    """The Redis password anchored in `command:` and aliased in the healthcheck and in an
    environment mapping is one finding; `apply` rewrites the anchor only."""
    text = (
        "services:\n"
        "  redis:\n"
        f"    command: [\"redis-server\", \"--requirepass\", &redis-pw \"{PW}\"]\n"
        "    healthcheck:\n"
        "      test: [\"CMD\", \"redis-cli\", \"-a\", *redis-pw, \"ping\"]\n"
        "  auth:\n"
        "    environment:\n"
        "      REDIS_PASSWORD: *redis-pw\n"
    )
    assert described(scan(text)) == [
        (3, f"command (service redis): hardcoded secret after --requirepass [{PW_MASK}]")]


# --- the line of a finding ----------------------------------------------------------------------


def test_an_anchor_on_the_key_line_puts_the_finding_on_the_value_line() -> None:
    text = (
        "services:\n"
        "  redis:\n"
        "    environment:\n"
        "      REDIS_PASSWORD: &redis-pw\n"
        f"        {PW}\n"
    )
    found = scan(text)
    assert [(f.line, f.key) for f in found] == [(5, "REDIS_PASSWORD")]
    edit = found[0].edit
    assert edit is not None and text[edit.raw_start:edit.raw_end] == PW


def test_a_quoted_argument_at_the_start_of_a_line_is_reported_on_that_line() -> None:
    text = (
        "services:\n"
        "  redis:\n"
        "    command: [\n"
        "\"redis-server\", \"--requirepass\",\n"
        f"\"{PW}\"]\n"
    )
    assert [(f.line, f.key) for f in scan(text)] == [(5, "command")]


def test_a_value_with_escapes_is_reported_on_its_own_line() -> None:
    """Not editable (the text is not the value verbatim): the line of the scalar."""
    text = (
        "services:\n"
        "  auth:\n"
        "    environment:\n"
        "      NODE_ENV: development\n"
        "      JWT_SECRET: \"vextrus\\x2Djwt-secret-change-me\"\n"
    )
    found = scan(text)
    assert [(f.line, f.key, f.rewritable) for f in found] == [(5, "JWT_SECRET", False)]


# --- the findings' details --------------------------------------------------------------------


def test_findings_on_one_line_are_listed_left_to_right() -> None:
    """A repeat found by the review pass comes before a later secret on the same line."""
    text = (
        "services:\n"
        "  minio:\n"
        "    image: minio/minio:RELEASE.2024-01-16T16-07-38Z\n"
        "    container_name: vextrus-minio\n"
        "    environment:\n"
        "      - MINIO_ROOT_USER=minio\n"
        f"      - MINIO_ROOT_PASSWORD={PW}\n"
        "    healthcheck:\n"
        f"      test: [\"CMD-SHELL\", \"mc alias set local http://localhost:9000 minio {PW} "
        f"&& curl -f -u minio:{PW} http://localhost:9000/minio/health/live\"]\n"
    )
    found = scan(text)
    assert [(f.line, f.kind) for f in found] == [(7, "literal"), (9, "reuse"), (9, "flag")]
    repeat = found[1]
    assert (repeat.service, repeat.masked) == ("minio", PW_MASK)
    assert re.fullmatch(r"repeats the secret of \S+ at line \d+ \(review\)", repeat.reason)
    assert found[2].describe() == (
        f"test (service minio): hardcoded password after curl -u [{PW_MASK}]")
    edit = found[1].edit
    assert edit is not None and (edit.flow, edit.style) == (True, '"')
    assert edit.node_value[edit.start:edit.end] == PW
    assert edit.node_value[:edit.start].endswith("minio ")
    assert not found[1].rewritable


def test_a_repeat_as_a_whole_exec_form_argument_is_found_after_names() -> None:
    """Name-holding keys (`container_name`, `*_USER`) are skipped, not the end of the pass."""
    text = (
        "services:\n"
        "  minio:\n"
        "    container_name: vextrus-minio\n"
        "    environment:\n"
        f"      MINIO_ROOT_PASSWORD: {PW}\n"
        "      MINIO_ROOT_USER: minio\n"
        "    healthcheck:\n"
        f"      test: [\"CMD\", \"mc\", \"alias\", \"set\", \"local\", \"http://localhost:9000\", "
        f"\"minio\", \"{PW}\"]\n"
    )
    found = scan(text)
    assert [(f.line, f.kind, f.masked) for f in found] == [
        (5, "literal", PW_MASK), (8, "reuse", PW_MASK)]
    assert found[1].describe() == (
        "MINIO_ROOT_PASSWORD (service minio): repeats the secret of MINIO_ROOT_PASSWORD "
        f"at line 5 (review) [{PW_MASK}]")
    edit = found[1].edit
    assert edit is not None and (edit.flow, edit.start, edit.end) == (True, 0, len(PW))


def test_a_tutorial_default_is_not_reported_again_where_it_repeats() -> None:
    """`postgres` as a password is found; the word `postgres` elsewhere is not a repeat."""
    text = (
        "services:\n"
        "  db:\n"
        "    environment:\n"
        "      POSTGRES_PASSWORD: postgres\n"
        "    command: postgres -c max_connections=200\n"
    )
    assert [(f.line, f.kind) for f in scan(text)] == [(4, "default")]


def test_a_repeat_under_an_environment_name_with_dashes_is_found() -> None:
    text = (
        "services:\n"
        "  minio:\n"
        "    environment:\n"
        f"      - MINIO_ROOT_PASSWORD={PW}\n"
        f"      - MC-MIRROR={PW}\n"
    )
    found = scan(text)
    assert [(f.line, f.kind) for f in found] == [(4, "literal"), (5, "reuse")]
    edit = found[1].edit
    assert edit is not None and edit.node_value[edit.start:edit.end] == PW


def test_fallbacks_of_one_variable_keep_the_files_own_name() -> None:
    """Two `${DB_PASSWORD:-…}` with different fallbacks both become `${DB_PASSWORD}`."""
    text = (
        "services:\n"
        "  auth:\n"
        "    environment:\n"
        "      DATABASE_PASSWORD: ${DB_PASSWORD:-Zr8kWq3nL5pT}\n"
        "  finance:\n"
        "    environment:\n"
        f"      DATABASE_PASSWORD: ${{DB_PASSWORD:-{PW}}}\n"
    )
    found = scan(text)
    assert [(f.line, f.kind, f.fixed) for f in found] == [(4, "fallback", True),
                                                          (7, "fallback", True)]
    assert variables(text) == [("DB_PASSWORD", 2)]


def test_a_plain_secret_in_a_flow_list_is_rewritten_quoted() -> None:
    """`${VAR}` is not a plain scalar inside `[...]`: `apply` quotes it there."""
    text = f"services:\n  redis:\n    command: [redis-server, --requirepass, {PW}]\n"
    new, _ = rewrite_compose(scan_compose_text(text, "docker-compose.yml"))
    assert new == ("services:\n  redis:\n"
                   "    command: [redis-server, --requirepass, \"${REDIS_PASSWORD}\"]\n")


# --- references -----------------------------------------------------------------------------------


def test_references_are_the_names_compose_interpolates() -> None:
    """`${NAME}`, `$NAME` and fallbacks count; `$$NAME` is the container's, not compose's."""
    text = (
        "services:\n"
        "  auth:\n"
        "    environment:\n"
        "      DATABASE_PASSWORD: ${DATABASE_PASSWORD}\n"
        "      REDIS_URL: redis://:$REDIS_PASSWORD@redis:6379\n"
        "      SESSION_SECRET: ${SESSION_SECRET:-}\n"
        "    command: sh -c 'echo $${HOSTNAME} --node $CLUSTER$${HOSTNAME}'\n"
    )
    scanned = scan_compose_text(text, "docker-compose.yml")
    assert scanned.references == {"DATABASE_PASSWORD", "REDIS_PASSWORD", "SESSION_SECRET",
                                  "CLUSTER"}
    assert scanned.findings == []


# --- a broken copy, line by line ---------------------------------------------------------------


def test_a_broken_copy_is_reported_line_by_line(tmp_path: Path) -> None:
    """Quotes stripped from values, the key of each line, no finding for a user name."""
    cut = (
        "services:\n"
        "  db:\n"
        "    environment:\n"
        "      POSTGRES_USER: vextrus\n"
        "      POSTGRES_PASSWORD: \"Xq7!vLm2pR9X\"\n"
        f"      DATABASE_URL: postgres://vextrus:{PW}@postgres:5432/vextrus\n"
        "    command:\n"
        "      - redis-server --requirepass Zr8kWq3nL5pT\n"
        "  web: [\n"
    )
    copy = tmp_path / "docker-compose.yml.bak"
    copy.write_text(cut, encoding="utf-8")
    copy.chmod(0o600)
    found = scan_target(ScanTarget(str(copy), "compose", copy, copy=True))
    assert [(f.location(), f.describe()) for f in found] == [
        (f"{copy}:5", "POSTGRES_PASSWORD: hardcoded secret [Xq…(12)]"),
        (f"{copy}:6", f"DATABASE_URL: password in a URL [{PW_MASK}]"),
        (f"{copy}:8", "(text): hardcoded secret after --requirepass [Zr…(12)]"),
    ]
    assert [f.to_dict()["kind"] for f in found] == ["literal", "url", "flag"]
    assert [f.value for f in found] == ["Xq7!vLm2pR9X", PW, "Zr8kWq3nL5pT"]


def test_a_repeat_names_where_the_secret_was_first_found() -> None:
    """The same password under two keys, then in a healthcheck: the review line points at
    the first place (line 4), not at whichever finding happened to be recorded last."""
    text = ("services:\n"
            "  db:\n"
            "    environment:\n"
            "      POSTGRES_PASSWORD: Xq7vLm2pR9zz\n"
            "  auth:\n"
            "    environment:\n"
            "      DATABASE_PASSWORD: Xq7vLm2pR9zz\n"
            "    healthcheck:\n"
            "      test: [\"CMD\", \"pg_isready\", \"--auth\", \"Xq7vLm2pR9zz\"]\n")
    found = scan_compose_text(text, "docker-compose.yml").findings
    repeats = [f.reason for f in found if f.kind == "reuse"]
    assert repeats == ["repeats the secret of POSTGRES_PASSWORD at line 4 (review)"]
