"""The indicators page shows the notices' real figures, draws them as accessible SVG, exports CSV, and is scoped."""

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from notices.models import IdentityStatus, Notice, NoticeStatus, NoticeText, Opposition
from portal.database import utcnow
from portal.models import AuditEvent
from tests.conftest import text
from tests.notices.conftest import NIR

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture()
def figures(db, establishment, make_usager):
    """Four usagers: two handed a notice this month (one of whom opposed), one never informed, one elsewhere's."""
    today = datetime.now(PARIS)
    text_version = NoticeText(establishment=establishment, variant="usager", number=1, body="…", author_label="test")
    informed = make_usager("DUI-1", ins=NIR, identity_status=IdentityStatus.QUALIFIEE)
    opposed = make_usager("DUI-2", identity_status=IdentityStatus.VALIDEE)
    make_usager("DUI-3")
    for number, usager in enumerate((informed, opposed)):
        db.add(
            Notice(
                usager=usager, addressee_name="x", addressee_capacity="usager", variant="usager", channel="courrier",
                may_oppose=True, text=text_version, reference=f"REF{number}", status=NoticeStatus.HANDED_OVER,
                issuer_label="test", content=b"%PDF", content_type="application/pdf", content_sha256="0" * 64,
                status_changed_at=utcnow(),
            )
        )  # fmt: skip
    db.add(Opposition(usager=opposed, opposed_by="L'usager", reason="Non", recorded_at=utcnow()))
    db.commit()
    return today


def table_rows(page: str, key: str) -> list[list[str]]:
    section = page.split(f'<h2 id="{key}">')[1].split("</section>")[0]
    body = section.split("<tbody>")[1].split("</tbody>")[0]
    rows = []
    for line in body.split("<tr>")[1:]:
        cells = [cell.split(">", 1)[1].split("<")[0] for cell in line.replace("<th", "<td").split("<td")[1:]]
        rows.append(cells)
    return rows


def test_reception_sees_the_notices_figures_of_its_establishment(logged_in, reception, figures):
    page = text(logged_in(reception).get("/indicateurs", follow_redirects=True))  # one establishment: its page
    monthly = table_rows(page, "notices-par-mois")
    assert len(monthly) == 12 and monthly[-1][1:] == ["2", "1"] and all(row[1:] == ["0", "0"] for row in monthly[:-1])
    assert table_rows(page, "information-usagers") == [
        ["Informés, sans opposition", "1", "33,3"], ["Opposés à l'alimentation du DMP", "1", "33,3"],
        ["Pas encore informés", "1", "33,3"],
    ]  # fmt: skip
    assert [row[1] for row in table_rows(page, "statut-ins")] == ["1", "0", "1", "1"]


def test_monthly_figures_are_drawn_as_an_accessible_svg_with_their_table(logged_in, reception, figures):
    page = logged_in(reception).get("/indicateurs", follow_redirects=True).get_data(as_text=True)
    chart = page.split('<h2 id="notices-par-mois">')[1].split("</figure>")[0]
    assert (
        'role="img"' in chart and 'aria-labelledby="notices-par-mois-chart-title notices-par-mois-chart-desc"' in chart
    )
    assert "<title id=" in chart and "<desc id=" in chart
    assert chart.count('<rect class="bar bar-0"') == 12 and chart.count('<rect class="bar bar-1"') == 12
    assert "style=" not in page


def test_the_months_under_the_bars_are_short_with_the_year_once_so_that_they_do_not_overlap(
    logged_in, reception, figures
):
    page = text(logged_in(reception).get("/indicateurs", follow_redirects=True))
    chart = page.split('<h2 id="notices-par-mois">')[1].split("</figure>")[0]
    labels = re.findall(r'<text class="month"[^>]*>([^<]*)</text>', chart)
    months = [label for label in labels if not label.isdigit()]
    years = [label for label in labels if label.isdigit()]

    assert len(months) == 12 and all(len(month) <= 5 for month in months)  # "janv.", "févr.", "mai"...
    assert years[0] == str(figures.year - 1 if figures.month < 12 else figures.year)
    assert len(years) == (1 if figures.month == 12 else 2)  # the first month's, and January's


def test_period_selector_changes_the_months_shown(logged_in, reception, establishment, figures):
    page = text(logged_in(reception).get(f"/indicateurs/{establishment.id}?mois=3"))
    assert len(table_rows(page, "notices-par-mois")) == 3


def test_csv_export_is_utf8_with_bom_and_semicolons_and_is_audited(db, logged_in, reception, establishment, figures):
    client = logged_in(reception)
    response = client.get(f"/indicateurs/{establishment.id}/information-usagers.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Situation", "Usagers", "Part (%)"]
    assert rows[1] == ["Informés, sans opposition", "1", "33,3"]
    month = figures.strftime("%Y-%m")
    monthly = client.get(f"/indicateurs/{establishment.id}/notices-par-mois.csv").get_data()
    assert f"{month};2;1" in monthly.decode("utf-8-sig")
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "indicators.export")).actor_id == reception.id


def test_unknown_table_is_a_404(logged_in, reception, establishment):
    assert logged_in(reception).get(f"/indicateurs/{establishment.id}/rien.csv").status_code == 404


def test_reception_of_another_establishment_gets_404(logged_in, other_reception, establishment):
    client = logged_in(other_reception)
    assert client.get(f"/indicateurs/{establishment.id}").status_code == 404
    assert client.get(f"/indicateurs/{establishment.id}/statut-ins.csv").status_code == 404


def test_professional_may_not_read_indicators(logged_in, professional, establishment):
    assert logged_in(professional).get(f"/indicateurs/{establishment.id}").status_code == 403
