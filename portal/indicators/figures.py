"""Tables of figures that features provide for one establishment and one period, and the period itself.

The page lives in the portal, which may not import the features (DESIGN rule 1): each feature
registers a provider in its init_app, as it registers its local annuaire source, and the page
shows the providers' tables in turn. A provider is given the acting user, already allowed to
read the establishment's indicators, for its audit lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy.orm import Session

from portal.models import Establishment, User

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Period:
    """Whole months, oldest first; each named by its first day."""

    months: tuple[date, ...]

    @property
    def start(self) -> date:
        return self.months[0]

    @property
    def end(self) -> date:
        """The first day after the period."""
        return next_month(self.months[-1])

    def bounds(self) -> tuple[datetime, datetime]:
        """The period's first instant and the first instant after it, in French time."""
        return month_start(self.start), month_start(self.end)

    def month_of(self, moment: datetime) -> date | None:
        """The month of the period that holds this moment (in French time), None if outside."""
        day = moment.astimezone(PARIS).date().replace(day=1)
        return day if self.start <= day < self.end else None


@dataclass(frozen=True)
class Table:
    key: str  # names its CSV file; unique on the page
    caption: str
    headings: tuple[str, ...]
    # The first cell labels the row (a month's first day in a monthly table); the others are numbers.
    rows: list[tuple] = field(default_factory=list)
    monthly: bool = False  # drawn as bars per month above the table
    note: str = ""


Provider = Callable[[Session, User, Establishment, Period, bool], list[Table]]


def month_start(month: date) -> datetime:
    """The first instant of the month, in French time."""
    return datetime.combine(month, time.min, PARIS)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def last_months(count: int, today: date) -> Period:
    months = [today.replace(day=1)]
    while len(months) < count:
        previous = months[0].replace(day=1)
        months.insert(0, date(previous.year - (previous.month == 1), (previous.month - 2) % 12 + 1, 1))
    return Period(tuple(months))


def register_provider(app: Flask, provider: Provider) -> None:
    app.extensions.setdefault("indicators.providers", []).append(provider)


def tables(db: Session, actor: User, establishment: Establishment, period: Period, refresh: bool) -> list[Table]:
    """Every provider's tables, in the order the features were wired; `refresh` recomputes what is cached."""
    found = []
    for provider in current_app.extensions.get("indicators.providers", []):
        found += provider(db, actor, establishment, period, refresh)
    return found
