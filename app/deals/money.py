"""Amounts of money: ISO 4217 currencies, exact minor units, display in the locale.

Deals store amounts as integers in the currency's minor units (cents for EUR, whole yen
for JPY, fils for KWD), so sums in reports are exact. Typed amounts are parsed with
:class:`decimal.Decimal` and never pass through a binary float; an amount with more
decimals than its currency has is refused rather than rounded, because silently
changing a quoted price is worse than asking again. The number of decimals per currency
comes from Babel's CLDR data, the same data that formats the amounts for display.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any

from babel.numbers import format_currency, get_currency_precision, list_currencies
from flask import has_request_context
from flask_babel import get_locale

DEFAULT_CURRENCY = "EUR"
# Amounts above this (in major units) are refused: no deal is that large, and the limit
# keeps every amount, in every currency, far inside a bigint of minor units.
MAX_AMOUNT = Decimal(10) ** 15
# "No currency" and the testing code are ISO 4217 entries, but not money to sell in.
_NOT_MONEY = frozenset({"XXX", "XTS"})
# Plain decimal notation only: ASCII digits, at most one point with digits on both
# sides. No sign, no exponent ("1e3"), no grouping ("1,000"), no NaN or Infinity.
_AMOUNT = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
_CODE = re.compile(r"[A-Z]{3}")
# Enough digits for every amount the pattern admits: arithmetic below never rounds.
_EXACT = Context(prec=64)


class MoneyError(ValueError):
    """An amount or currency that can not be stored; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@lru_cache(maxsize=1)
def currency_codes() -> frozenset[str]:
    """Every ISO 4217 code Babel knows, less the codes that are not money."""
    return frozenset(list_currencies()) - _NOT_MONEY


def is_currency(code: Any) -> bool:
    """Whether ``code`` is an accepted ISO 4217 code (upper case, exactly)."""
    return isinstance(code, str) and _CODE.fullmatch(code) is not None and code in currency_codes()


def normalize_currency(value: Any) -> str:
    """``value`` as an accepted currency code (trimmed, upper-cased), or MoneyError."""
    if not isinstance(value, str):
        raise MoneyError("Give a three-letter ISO 4217 currency code.")
    code = value.strip().upper()
    if not is_currency(code):
        raise MoneyError("Not a known ISO 4217 currency code.")
    return code


def minor_digits(currency: str) -> int:
    """How many decimals ``currency`` has (2 for EUR, 0 for JPY, 3 for KWD)."""
    return int(get_currency_precision(currency))


def parse_amount(value: Any) -> Decimal:
    """A typed amount as an exact, non-negative decimal (in major units).

    Accepts a decimal string ("1234.50") or a JSON number. Integers are exact; a
    fractional JSON number arrives as a float, whose shortest text form is what the
    client wrote for any amount with up to 15 significant digits, so it is read from
    that text and never computed with.
    """
    if isinstance(value, bool):
        raise MoneyError("Give the amount as a decimal number, e.g. 1234.50.")
    if isinstance(value, int):
        if value < 0:
            raise MoneyError("The amount can not be negative.")
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() else "NaN"
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise MoneyError("Give the amount as a decimal number, e.g. 1234.50.")
    if text.startswith("-"):
        raise MoneyError("The amount can not be negative.")
    if not _AMOUNT.fullmatch(text):
        raise MoneyError("Give the amount as a plain decimal number, e.g. 1234.50.")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # the pattern makes this unreachable; stay safe
        raise MoneyError("Give the amount as a plain decimal number, e.g. 1234.50.") from exc
    if amount > MAX_AMOUNT:
        raise MoneyError("The amount is too large.")
    return amount


def to_minor(value: Any, currency: str) -> int:
    """``value`` (see :func:`parse_amount`) in minor units of ``currency``, exactly.

    More decimals than the currency has are refused ("10.005" EUR, "10.5" JPY), except
    trailing zeros ("10.50" JPY is still refused, "10.0" JPY is 10)."""
    amount = parse_amount(value)
    digits = minor_digits(currency)
    with localcontext(_EXACT):
        scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        if digits == 0:
            raise MoneyError(f"{currency} amounts have no decimals.")
        raise MoneyError(f"{currency} amounts have at most {digits} decimals.")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Minor units back to a decimal with exactly the currency's decimals."""
    digits = minor_digits(currency)
    with localcontext(_EXACT):
        return Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def amount_text(minor: int | None, currency: str) -> str | None:
    """The amount as the API writes it: a plain decimal string ("1234.50", "500")."""
    if minor is None:
        return None
    return format(from_minor(minor, currency), "f")


def weighted(minor: int | None, currency: str, probability: int) -> Decimal | None:
    """``probability`` percent of the amount, rounded half up to the currency's minor
    units (what a forecast shows; reports sum the exact minor units themselves)."""
    if minor is None:
        return None
    digits = minor_digits(currency)
    with localcontext(_EXACT):
        exact = Decimal(minor) * probability / 100
        rounded = exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return rounded.scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def format_money(amount: Decimal | None, currency: str, locale: str | None = None) -> str:
    """``amount`` with its currency as people of the current locale write it
    ("€1,234.50", "1.234,50 €", "¥1,235")."""
    if amount is None:
        return ""
    if locale is None:
        current = get_locale() if has_request_context() else None
        locale = str(current) if current is not None else "en"
    return str(format_currency(amount, currency, locale=locale))


def format_minor(minor: int | None, currency: str, locale: str | None = None) -> str:
    """:func:`format_money` for an amount in minor units."""
    if minor is None:
        return ""
    return format_money(from_minor(minor, currency), currency, locale)
