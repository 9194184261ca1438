"""The reports page: filter form, a chart and a table per report, CSV downloads, field
errors for bad filters."""

from __future__ import annotations

import csv
import io
import re

from flask.testing import FlaskClient

from tests.conftest import login
from tests.reports.conftest import FEB, World

SECTIONS = ("funnel", "win-rate", "stage-times", "loss-reasons", "forecast", "owners", "sources")


def test_the_page_draws_every_report(client: FlaskClient, world: World) -> None:
    login(client, world.tf)
    response = client.get("/reports", base_url=world.tf.base_url, query_string=FEB)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in SECTIONS:
        assert f'id="report-{name}"' in html, name
        assert f"report={name}" in html, name  # its CSV link
    # Inline SVG charts, labelled for screen readers; nothing loaded from elsewhere.
    assert html.count('<svg class="chart-svg"') == 8  # loss reasons: reasons and competitors
    assert 'role="img" aria-labelledby="chart-funnel-1-title chart-funnel-1-desc"' in html
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert all(src.startswith("http://crm.test/static/") for src in scripts), scripts
    # The funnel's table has the hand-worked numbers (see test_api).
    funnel = html[html.index('id="report-funnel"') : html.index('id="report-win-rate"')]
    assert re.search(r"Lead</bdi></th><td class=\"num\">5</td><td class=\"num\">80%</td>", funnel)
    assert "Forecast in EUR" in html and "Forecast in USD" not in html  # D3 closes in March
    assert "€1,900.00" in html  # won in February
    # The navigation links to the page.
    assert 'href="/reports"' in html


def test_a_sales_rep_gets_their_own_numbers_and_no_download(
    client: FlaskClient, world: World
) -> None:
    login(client, world.tf, email=world.rep_email)
    html = client.get("/reports", base_url=world.tf.base_url, query_string=FEB).get_data(
        as_text=True
    )
    assert "Only the deals you may see are counted." in html
    funnel = html[html.index('id="report-funnel"') : html.index('id="report-win-rate"')]
    assert re.search(r"Lead</bdi></th><td class=\"num\">3</td>", funnel)
    assert "Download CSV" not in html
    refused = client.get(
        "/reports/export.csv", base_url=world.tf.base_url, query_string={"report": "funnel"}
    )
    assert refused.status_code == 403


def test_csv_download(client: FlaskClient, world: World) -> None:
    login(client, world.tf)
    response = client.get(
        "/reports/export.csv",
        base_url=world.tf.base_url,
        query_string={**FEB, "report": "loss-reasons"},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8").lstrip("\ufeff"))))
    assert rows == [
        ["kind", "name", "deals", "share", "amount_EUR", "amount_USD"],
        ["reason", "No budget", "1", "0.5", "", "300.00"],
        ["reason", "Price too high", "1", "0.5", "500.00", ""],
        ["competitor", "Acme", "1", "0.5", "500.00", ""],
    ]
    unknown = client.get(
        "/reports/export.csv", base_url=world.tf.base_url, query_string={"report": "nope"}
    )
    assert unknown.status_code == 404


def test_bad_filters_are_shown_on_the_form(client: FlaskClient, world: World) -> None:
    login(client, world.tf)
    response = client.get(
        "/reports",
        base_url=world.tf.base_url,
        query_string={"from": "2026-03-01", "to": "2026-02-01", "owner": "nobody"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The end of the period is before its start." in html
    assert "Give a member&#39;s user id, or me." in html
    assert 'aria-invalid="true"' in html
    assert 'id="report-funnel"' not in html
    bad_csv = client.get(
        "/reports/export.csv",
        base_url=world.tf.base_url,
        query_string={"report": "funnel", "from": "2026-02-31"},
    )
    assert bad_csv.status_code == 400
    assert "Give a date as YYYY-MM-DD." in bad_csv.get_data(as_text=True)


def test_an_empty_period_draws_no_bars(client: FlaskClient, world: World) -> None:
    login(client, world.tf)
    response = client.get(
        "/reports",
        base_url=world.tf.base_url,
        query_string={"from": "2020-01-01", "to": "2020-01-31"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Nothing to draw for this period." in html


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient, world: World) -> None:
    response = client.get("/reports", base_url=world.tf.base_url)
    assert response.status_code == 302
    assert "/login" in response.location
