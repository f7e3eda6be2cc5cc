"""Bangladesh money rules from seed 003, as pure functions on Decimal (never float).

* VAT is 15% of the net amount.
* Withholding (tax deducted at source) is 7.5% for contractors, 5% for suppliers, 10% for
  services, taken on the net amount (VAT is not a base for it); the vendor is paid
  net + VAT - withholding.
* Purchase orders are approved by a tier chosen by amount in BDT. The seeds name "BDT
  thresholds for approval hierarchies" without the figures; the tiers below are this
  project's assumption, kept in one table so they are easy to change.

Amounts are rounded to the paisa (0.01) half-up, as invoices are printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PAISA = Decimal("0.01")
VAT_RATE = Decimal("0.15")
WITHHOLDING_RATES: dict[str, Decimal] = {
    "contractor": Decimal("0.075"),
    "supplier": Decimal("0.05"),
    "service": Decimal("0.10"),
}
# (inclusive upper bound in BDT, approver role); None: no upper bound.
APPROVAL_TIERS: tuple[tuple[Decimal | None, str], ...] = (
    (Decimal("50000"), "department-head"),
    (Decimal("500000"), "finance-manager"),
    (Decimal("5000000"), "cfo"),
    (None, "board"),
)


class MoneyError(ValueError):
    """A bad amount or vendor type; str() is one line."""


def parse_bdt(value: object) -> Decimal:
    """An amount in BDT from a string or int (never a float): positive, at most 2 decimals."""
    if isinstance(value, bool | float):
        raise MoneyError(f"amount {value!r}: give BDT as a string or whole number, not a float")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise MoneyError(f"amount {value!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise MoneyError(f"amount {value!r} must be greater than 0")
    if amount != amount.quantize(PAISA):
        raise MoneyError(f"amount {value!r} has more than 2 decimal places")
    return amount.quantize(PAISA)


def money(amount: Decimal) -> Decimal:
    return amount.quantize(PAISA, rounding=ROUND_HALF_UP)


def approval_tier(amount: Decimal) -> str:
    """The role that must approve a purchase order of `amount` BDT."""
    for bound, role in APPROVAL_TIERS:
        if bound is None or amount <= bound:
            return role
    raise AssertionError("the last tier has no bound")  # pragma: no cover


@dataclass(frozen=True)
class InvoiceTotals:
    net: Decimal
    vat: Decimal
    gross: Decimal
    withholding_rate: Decimal
    withholding: Decimal
    payable: Decimal

    def as_dict(self) -> dict[str, str]:
        """Strings, so JSON carries exact amounts."""
        return {k: str(v) for k, v in self.__dict__.items()}


def invoice_totals(net: Decimal, vendor_type: str) -> InvoiceTotals:
    """VAT 15% on net; withholding by vendor type on net; payable = net + VAT - withholding."""
    rate = WITHHOLDING_RATES.get(vendor_type)
    if rate is None:
        known = ", ".join(WITHHOLDING_RATES)
        raise MoneyError(f"vendor type {vendor_type!r} is not one of {known}")
    net = money(net)
    vat = money(net * VAT_RATE)
    withholding = money(net * rate)
    return InvoiceTotals(net, vat, net + vat, rate, withholding, net + vat - withholding)
