"""Unit tests of the Vextrus money rules and of the console's Temporal plumbing (no server)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from console.temporal.args import ArgsError, check_name, parse_args
from console.temporal.listing import (
    FallbackCursor,
    matches,
    next_cursor,
    phases,
    visibility_query,
)
from console.temporal.types import ListFilter, TemporalError, WorkflowRow
from console.temporal.vextrus_workflows.calc import (
    MoneyError,
    approval_tier,
    invoice_totals,
    parse_bdt,
)

# --- money -------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "tier"), [
    ("0.01", "department-head"), ("50000", "department-head"), ("50000.01", "finance-manager"),
    ("500000", "finance-manager"), ("500000.01", "cfo"), ("5000000", "cfo"),
    ("5000000.01", "board"), ("99999999", "board"),
])  # fmt: skip
def test_approval_tier_boundaries_are_inclusive(amount, tier):
    assert approval_tier(Decimal(amount)) == tier


@pytest.mark.parametrize(("vendor", "withholding", "payable"), [
    ("contractor", "7500.00", "107500.00"),
    ("supplier", "5000.00", "110000.00"),
    ("service", "10000.00", "105000.00"),
])  # fmt: skip
def test_invoice_vat_15_and_withholding_by_vendor_type(vendor, withholding, payable):
    totals = invoice_totals(Decimal("100000"), vendor)
    assert totals.vat == Decimal("15000.00")
    assert totals.gross == Decimal("115000.00")
    assert totals.withholding == Decimal(withholding)
    assert totals.payable == Decimal(payable)


def test_invoice_rounds_to_the_paisa_half_up():
    totals = invoice_totals(Decimal("0.10"), "contractor")  # 0.0075 withholding, 0.015 VAT
    assert (totals.vat, totals.withholding) == (Decimal("0.02"), Decimal("0.01"))
    assert totals.payable == Decimal("0.11")
    assert totals.as_dict()["payable"] == "0.11"


def test_unknown_vendor_type_is_named():
    with pytest.raises(MoneyError, match="'consultant' is not one of contractor, supplier"):
        invoice_totals(Decimal("1"), "consultant")


@pytest.mark.parametrize(("raw", "words"), [
    (12.5, "not a float"), ("abc", "not a number"), ("-5", "greater than 0"),
    ("0", "greater than 0"), ("1.234", "more than 2 decimal places"), ("NaN", "greater than 0"),
])  # fmt: skip
def test_bad_amounts_are_refused_in_words(raw, words):
    with pytest.raises(MoneyError, match=words):
        parse_bdt(raw)


def test_amounts_accept_strings_with_thousands_separators_and_ints():
    assert parse_bdt("1,250,000.5") == Decimal("1250000.50")
    assert parse_bdt(42500) == Decimal("42500.00")


# --- JSON arguments -----------------------------------------------------------------------


def test_args_array_object_and_empty():
    assert parse_args('["rahim", "ok"]') == ["rahim", "ok"]
    assert parse_args('{"by": "rahim"}') == [{"by": "rahim"}]
    assert parse_args("") == [] and parse_args(None) == []


def test_args_errors_are_one_line_with_position():
    with pytest.raises(ArgsError) as info:
        parse_args('["rahim",]')
    assert str(info.value).startswith("arguments: invalid JSON at line 1 column")
    assert "\n" not in str(info.value)
    with pytest.raises(ArgsError, match="expected a JSON array"):
        parse_args('"rahim"')


def test_names_are_checked():
    assert check_name("signal", " approve ") == "approve"
    with pytest.raises(ArgsError, match="signal name '' must be"):
        check_name("signal", "  ")


# --- listing: visibility query and the open/closed fallback ------------------------------------


def test_visibility_query_ands_filters_and_brackets_the_operator_query():
    flt = ListFilter(status="running", type="InvoiceApproval", workflow_id="inv-1",
                     query="StartTime > '2025-01-01T00:00:00Z' OR X = 1")
    assert visibility_query(flt) == (
        "WorkflowId = 'inv-1' AND WorkflowType = 'InvoiceApproval' AND "
        "ExecutionStatus = 'Running' AND (StartTime > '2025-01-01T00:00:00Z' OR X = 1)")
    assert visibility_query(ListFilter(status="timed-out")) == "ExecutionStatus = 'TimedOut'"
    assert visibility_query(ListFilter()) == ""


def test_filters_with_quotes_or_unknown_status_are_refused():
    with pytest.raises(TemporalError, match="quotes and newlines"):
        visibility_query(ListFilter(workflow_id="x' OR '1'='1"))
    with pytest.raises(TemporalError, match="status 'stuck' is not one of running"):
        visibility_query(ListFilter(status="stuck"))


def test_fallback_walks_open_then_closed_and_only_what_the_status_needs():
    flt = ListFilter()
    first = FallbackCursor.decode("", flt)
    assert first.phase == "open"
    mid = next_cursor(flt, first, b"\x01\x02")
    assert FallbackCursor.decode(mid, flt) == FallbackCursor("open", b"\x01\x02")
    to_closed = next_cursor(flt, first, b"")
    assert FallbackCursor.decode(to_closed, flt) == FallbackCursor("closed", b"")
    assert next_cursor(flt, FallbackCursor("closed"), b"") == ""
    # A server page bigger than ours (the test server ignores the size) is paged here.
    rest = next_cursor(flt, FallbackCursor("open", b"\x07"), b"", shown_to=50, server_rows=120)
    assert FallbackCursor.decode(rest, flt) == FallbackCursor("open", b"\x07", 50)
    assert phases(ListFilter(status="running")) == ("open",)
    assert phases(ListFilter(status="failed")) == ("closed",)


def test_damaged_page_token_is_refused():
    with pytest.raises(TemporalError, match="not one of this console's"):
        FallbackCursor.decode("v1:abc", ListFilter())


def test_client_side_filters_apply_every_field():
    row = WorkflowRow("po-1", "r1", "PurchaseOrderApproval", "running")
    assert matches(row, ListFilter(status="running", type="PurchaseOrderApproval"))
    assert not matches(row, ListFilter(status="completed"))
    assert not matches(row, ListFilter(workflow_id="po-2"))


# --- the screen's filter line ------------------------------------------------------------


def test_filter_line_parses_keys_bare_id_and_query():
    from console.temporal.filter_text import format_filter, parse_filter

    flt = parse_filter("status:running type:InvoiceApproval inv-2025 q:StartTime > 'x' AND a:b")
    assert flt == ListFilter(status="running", type="InvoiceApproval", workflow_id="inv-2025",
                             query="StartTime > 'x' AND a:b")
    assert parse_filter(format_filter(flt)) == flt
    assert parse_filter("") == ListFilter()


@pytest.mark.parametrize(("line", "words"), [
    ("state:running", "'state:running': use status:, type:, id: or q:"),
    ("status:stuck", "status 'stuck' is not one of running"),
    ("a b", "id: given twice"),
])  # fmt: skip
def test_filter_line_mistakes_are_one_line(line, words):
    from console.temporal.filter_text import parse_filter

    with pytest.raises(TemporalError, match=words):
        parse_filter(line)


def test_retry_backoff_doubles_up_to_the_cap():
    from ui.screens.workflows import retry_delay

    assert [retry_delay(n) for n in (1, 2, 3, 4, 5, 6)] == [2, 4, 8, 16, 30, 30]


def test_connect_failures_in_words():
    from console.temporal.errors import words

    reset = RuntimeError("Failed client connect: `get_system_info` call error after connection:"
                         " Status { code: Unknown, message: \"transport error\", source: Some("
                         "hyper::Error(Io, Kind(ConnectionReset))) }")
    assert str(words(reset, 2.0)) == "connection reset by the server"
    assert str(words(TimeoutError(), 2.0)) == "timed out after 2s"


async def test_a_call_that_fails_at_its_deadline_is_a_timeout_whatever_the_transport_says():
    """At the deadline the SDK resets the HTTP/2 stream; the test server's answer then read
    CANCELLED "h2 protocol error". Past the deadline it is a timeout (a query: no worker)."""
    import asyncio
    from types import SimpleNamespace

    from temporalio.service import RPCError, RPCStatusCode

    from console.temporal.client import TemporalBackend
    from console.temporal.types import TemporalUnavailable

    calls: list[str] = []

    async def reset_at_deadline(request, retry, timeout):
        calls.append("query")
        await asyncio.sleep(timeout.total_seconds())
        raise RPCError("h2 protocol error: http2 error", RPCStatusCode.CANCELLED, b"")

    async def reset_at_once(request, retry, timeout):
        raise RPCError("h2 protocol error: http2 error", RPCStatusCode.CANCELLED, b"")

    backend = TemporalBackend("127.0.0.1:1", "vextrus", query_timeout=0.05)
    service = SimpleNamespace(query_workflow=reset_at_deadline, describe=reset_at_once)
    backend._client = SimpleNamespace(workflow_service=service)  # type: ignore[assignment]

    async def connect():
        return backend._client

    backend._connect = connect  # type: ignore[method-assign]
    with pytest.raises(TemporalUnavailable, match=r"^timed out after 0\.05s$"):
        await backend._call("query_workflow", None, 0.05)
    assert backend._client is not None  # a timeout keeps the link
    with pytest.raises(TemporalUnavailable, match=r"^temporal cancelled: h2 protocol error"):
        await backend._call("describe", None, 5)  # before its deadline: what it said
    assert calls == ["query"]
