"""The dashboard as a finance officer and a contractor use it, in headless Chromium against a
live server holding the 专栏7 seed and the demo activity. What the page shows is compared with
what the API answers for the same key: figures to the fen, rows, series, files."""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Browser, Page

from app.money import yuan_to_wan
from tests.browser.conftest import LiveServer, Watched, assert_only_the_app, screenshot, watch

AMOUNT_CARDS = ("original_estimate", "revised_estimate", "committed", "disbursed", "remaining")


@contextmanager
def rendered(page: Page) -> Iterator[None]:
    """Do something, then wait until the page has drawn its answer; it shows no problem."""
    before = page.evaluate("document.body.dataset.ready || ''")
    yield
    page.wait_for_function("b => (document.body.dataset.ready || '') !== b", arg=before)
    assert page.locator("#problem").is_hidden(), page.locator("#problem").inner_text()


def sign_in(page: Page, server: LiveServer, key: str) -> None:
    page.goto(f"{server.base}/")
    page.get_by_label("API 密钥").fill(key)
    with rendered(page):
        page.get_by_role("button", name="进入").click()


def plain(text: str) -> str:
    return text.replace(",", "")


def percent(share: str) -> str:
    return f"{Decimal(share).scaleb(2)}%"


def programme_code(server: LiveServer) -> str:
    with server.api(server.admin_key) as api:
        code: str = api.get("/programmes").json()["items"][0]["code"]
    return code


def test_overview_shows_the_programmes_figures_to_the_fen(
    page: Watched, live_server: LiveServer
) -> None:
    sign_in(page.page, live_server, live_server.admin_key)
    p = page.page
    with live_server.api(live_server.admin_key) as api:
        totals = api.get("/reports/portfolio", params={"programme": programme_code(live_server)})
        alerts = api.get("/reports/alerts").json()["alerts"]
    figures = totals.json()["totals"]
    # 万元 by default, rounded as the exports round them.
    for name in AMOUNT_CARDS:
        shown = p.locator(f'[data-figure="{name}"] .money').inner_text()
        assert plain(shown) == str(yuan_to_wan(Decimal(figures[name]))), name
    assert p.locator('[data-figure="original_estimate"] .money').inner_text() == "45,400.40"
    shown_share = p.locator('[data-figure="financial_completion"] .value').inner_text()
    assert shown_share == percent(figures["financial_completion"])
    assert p.locator('[data-figure="physical_completion"] .value').inner_text() == percent(
        figures["physical_completion"]
    )
    # The alerts, most severe first, each linking to its project.
    items = p.locator("#alerts li")
    assert items.count() == len(alerts) > 0
    order = ["critical", "high", "medium", "low"]
    severities = [items.nth(i).get_attribute("data-severity") or "" for i in range(items.count())]
    assert severities == sorted(severities, key=order.index)
    first_link = items.nth(0).get_by_role("link").get_attribute("href")
    assert first_link == f"#/projects/{alerts[0]['project_code']}"
    screenshot(p, "overview")
    # In 元, every amount is the API's string, to the fen.
    with rendered(p):
        p.locator("#unit-switch").click()
    for name in AMOUNT_CARDS:
        shown = p.locator(f'[data-figure="{name}"] .money').inner_text()
        assert plain(shown) == figures[name], name
    # The key lives in this tab's sessionStorage only.
    assert p.evaluate("localStorage.length") == 0
    assert p.evaluate("sessionStorage.getItem('capital-tracker.key')") == live_server.admin_key
    p.get_by_role("button", name="退出").click()
    assert p.evaluate("sessionStorage.getItem('capital-tracker.key')") is None
    assert p.get_by_label("API 密钥").is_visible()


def _column(page: Page, attribute: str = "data-code") -> list[str]:
    rows = page.locator("#project-table tbody tr")
    return [rows.nth(i).get_attribute(attribute) or "" for i in range(rows.count())]


def _disbursed_column(page: Page) -> list[Decimal]:
    cells = page.locator("#project-table tbody tr td:nth-child(8) .money")
    return [Decimal(cells.nth(i).get_attribute("data-yuan") or "") for i in range(cells.count())]


def test_the_project_table_sorts_and_filters(page: Watched, live_server: LiveServer) -> None:
    sign_in(page.page, live_server, live_server.admin_key)
    p = page.page
    with rendered(p):
        p.get_by_role("link", name="项目", exact=True).click()
    code = programme_code(live_server)
    with live_server.api(live_server.admin_key) as api:
        groups = api.get(
            "/reports/portfolio", params={"programme": code, "group_by": "project"}
        ).json()["groups"]
        projects = api.get("/projects", params={"programme": code, "limit": 500}).json()["items"]
    assert sorted(_column(p)) == sorted(g["key"] for g in groups)
    assert len(groups) == 7
    p.locator('[data-sort="disbursed"]').click()
    ascending = _disbursed_column(p)
    assert ascending == sorted(Decimal(g["disbursed"]) for g in groups)
    assert p.locator("th[aria-sort]").get_attribute("aria-sort") == "ascending"
    p.locator('[data-sort="disbursed"]').click()
    assert _disbursed_column(p) == sorted(ascending, reverse=True)
    # Filters: category, then a flag.
    p.locator("#filter-category").select_option("expansion")
    expansion = {x["code"] for x in projects if x["category"] == "expansion"}
    assert set(_column(p)) == expansion and 0 < len(expansion) < 7
    assert p.locator("#table-count").inner_text() == f"显示 {len(expansion)} / 7 个项目"
    p.locator("#filter-category").select_option("")
    p.locator("#filter-flag").select_option("over_budget")
    over = {g["key"] for g in groups if g["flags"]["over_budget"]}
    assert set(_column(p)) == over and len(over) > 0
    flagged = p.locator("#project-table tbody tr").nth(0).locator('[data-flag="over_budget"]')
    assert flagged.inner_text() == "超概算"
    p.locator("#filter-flag").select_option("")
    p.get_by_label("搜索编号或名称").fill("zl7-2b")
    assert _column(p) == ["ZL7-2B"]


def test_a_project_page_draws_its_s_curve_and_lists_its_records(
    page: Watched, live_server: LiveServer
) -> None:
    sign_in(page.page, live_server, live_server.admin_key)
    p = page.page
    with rendered(p):
        p.get_by_role("link", name="项目", exact=True).click()
    with rendered(p):
        p.get_by_role("link", name="ZL7-2B", exact=True).click()
    assert p.locator("#view h1").inner_text().startswith("ZL7-2B ")
    with live_server.api(live_server.admin_key) as api:
        report = api.get("/projects/ZL7-2B/report").json()
        series = api.get(
            "/reports/timeseries", params={"project": "ZL7-2B", "interval": "quarter"}
        ).json()
        ledger = api.get("/disbursements", params={"project_id": report["project_id"]}).json()
        milestones = api.get("/milestones", params={"project_id": report["project_id"]}).json()
    lines = p.locator("svg.s-curve polyline.series")
    assert lines.count() == 3
    drawn = {lines.nth(i).get_attribute("data-series"): lines.nth(i) for i in range(3)}
    assert set(drawn) == {"pv", "ev", "ac"}
    for name, line in drawn.items():
        expected = sum(1 for point in series["points"] if point[name] is not None)
        assert len((line.get_attribute("points") or "").split()) == expected > 1, name
    assert plain(p.locator('[data-figure="disbursed"] .money').inner_text()) == str(
        yuan_to_wan(Decimal(report["disbursed"]))
    )
    assert p.locator("#payments tbody tr").count() == ledger["total"] > 0
    assert p.locator("#milestones tbody tr").count() == milestones["total"] > 0
    assert p.locator("#contracts tbody tr").count() == len(report["contracts"])
    screenshot(p, "project")


def test_the_language_switches_to_english_and_back(page: Watched, live_server: LiveServer) -> None:
    sign_in(page.page, live_server, live_server.admin_key)
    p = page.page
    assert p.locator("#view h1").inner_text().startswith("总览")
    with rendered(p):
        p.get_by_role("button", name="English").click()
    assert p.locator("html").get_attribute("lang") == "en"
    assert p.locator("#view h1").inner_text().startswith("Overview")
    assert p.get_by_role("link", name="Projects").is_visible()
    assert p.locator('[data-figure="disbursed"] .name').inner_text() == "Disbursed"
    # The alerts' messages come from the API in the language asked for.
    assert "exceeds the revised estimate" in p.locator("#alerts").inner_text()
    with rendered(p):
        p.evaluate("() => { location.hash = '#/projects/ZL7-2B'; }")
    headings = p.locator("#view h2").all_inner_texts()
    assert {"Contracts", "Milestones", "Payments"} <= set(headings)
    assert p.locator("#payments thead").inner_text().startswith("Paid on")
    with rendered(p):
        p.get_by_role("button", name="中文").click()
    assert "合同" in p.locator("#view h2").all_inner_texts()
    with rendered(p):
        p.get_by_role("link", name="总览").click()
    assert p.locator("html").get_attribute("lang") == "zh-CN"
    assert p.locator("#view h1").inner_text().startswith("总览")
    assert "超过调整后概算" in p.locator("#alerts").inner_text()


def test_the_csv_button_downloads_the_apis_export(page: Watched, live_server: LiveServer) -> None:
    sign_in(page.page, live_server, live_server.admin_key)
    p = page.page
    with p.expect_download() as started:
        p.locator('[data-export="reports/portfolio:csv"]').first.click()
    download = started.value
    assert download.suggested_filename.endswith(".csv")
    saved = Path(download.path()).read_bytes()
    with live_server.api(live_server.admin_key) as api:
        expected = api.get(
            "/reports/portfolio",
            params={
                "programme": programme_code(live_server),
                "group_by": "plan_item",
                "format": "csv",
                "lang": "zh",
                "unit": "wan",
            },
        ).content
    assert saved == expected
    first_line = saved.decode("utf-8-sig").splitlines()[0]
    assert first_line.startswith("专栏,名称,项目数")
    assert "资金计划（万元）" in first_line


def test_a_contractor_sees_only_its_own_and_reports_progress(
    page: Watched, live_server: LiveServer
) -> None:
    sign_in(page.page, live_server, live_server.contractor_key)
    p = page.page
    with live_server.api(live_server.contractor_key) as api:
        own = {x["code"] for x in api.get("/projects").json()["items"]}
        contracts = api.get("/contracts").json()["items"]
        milestones = api.get("/milestones").json()["items"]
    assert 0 < len(own) < 7
    assert live_server.contractor_name in p.locator("#view h1").inner_text()
    shown = p.locator("#project-table tbody tr td:first-child")
    assert {shown.nth(i).inner_text() for i in range(shown.count())} == own
    assert p.locator("#contracts tbody tr").count() == len(contracts)
    assert p.get_by_role("link", name="项目", exact=True).is_hidden()
    # Report progress on the first milestone, from the page.
    milestone = milestones[0]
    form = p.locator(f'form[data-milestone-id="{milestone["id"]}"]')
    form.get_by_label("完成百分比").fill(milestone["percent_complete"] or "10")
    form.get_by_label("说明").fill("浏览器测试：现场复核")
    with rendered(p):
        form.get_by_role("button", name="报告进度").click()
    assert "已报告" in p.locator("#status").inner_text()
    with live_server.api(live_server.contractor_key) as api:
        history = api.get(f"/milestones/{milestone['id']}/progress").json()
    assert [h["note"] for h in history].count("浏览器测试：现场复核") == 1
    # Focus comes back to the form it was sent from.
    assert p.evaluate("document.activeElement.closest('form')?.dataset.milestoneId") == str(
        milestone["id"]
    )
    screenshot(p, "contractor")
    # Its project's page: the project, its own contracts, no staff report (nothing refused).
    code = sorted(own)[0]
    with rendered(p):
        p.get_by_role("link", name=code, exact=True).click()
    assert p.locator("#view h1").inner_text().startswith(f"{code} ")
    assert "null" not in p.locator("#view").inner_text()
    assert p.locator("#figures").count() == 0 and p.locator("svg.s-curve").count() == 0
    shown_contracts = p.locator("#contracts tbody tr")
    theirs = [c for c in contracts if c["project_id"] == milestone["project_id"]]
    assert shown_contracts.count() == len(theirs)
    assert live_server.contractor_name in shown_contracts.nth(0).inner_text()


def test_a_past_date_shows_the_project_as_it_stood(page: Watched, live_server: LiveServer) -> None:
    sign_in(page.page, live_server, live_server.admin_key)
    p = page.page
    with rendered(p):
        p.evaluate("() => { location.hash = '#/projects/ZL7-2B'; }")
    with rendered(p):
        p.locator("#as-of").fill("2022-12-31")
    assert p.locator("#status").inner_text() == "数据截至 2022-12-31"
    with live_server.api(live_server.admin_key) as api:
        report = api.get("/projects/ZL7-2B/report", params={"as_of": "2022-12-31"}).json()
        ledger = api.get(
            "/disbursements", params={"project_id": report["project_id"], "to": "2022-12-31"}
        ).json()
        today = api.get("/projects/ZL7-2B/report").json()
    assert report["disbursed"] != today["disbursed"]
    shown = p.locator('[data-figure="disbursed"] .money').get_attribute("data-yuan")
    assert shown == report["disbursed"]
    paid = p.locator("#contracts tbody tr td:nth-child(5) .money").get_attribute("data-yuan")
    assert paid == report["contracts"][0]["paid"]
    assert p.locator("#payments tbody tr").count() == ledger["total"]
    # A date after today is refused on the page, and the figures stay as they were.
    p.locator("#as-of").fill("2999-01-01")
    assert "不能晚于今天" in p.locator("#problem").inner_text()
    assert p.locator("#as-of").input_value() == "2022-12-31"


def test_a_missing_project_leaves_nothing_of_the_last_page(
    browser: Browser, live_server: LiveServer
) -> None:
    watched = watch(browser)
    try:
        p = watched.page
        sign_in(p, live_server, live_server.admin_key)
        before = p.evaluate("document.body.dataset.ready")
        p.evaluate("() => { location.hash = '#/projects/NO-SUCH'; }")
        p.wait_for_function("b => document.body.dataset.ready !== b", arg=before)
        assert p.locator("#problem").is_visible()
        assert "NO-SUCH" in p.locator("#problem").inner_text()
        assert p.locator("#view").inner_text() == ""
        # The browser reports the API's 404 for the request; nothing else went wrong.
        assert all("404" in error for error in watched.errors), watched.errors
        watched.errors.clear()
        assert_only_the_app(watched, live_server.base)
    finally:
        watched.page.context.close()


def test_the_page_prints_its_figures_without_its_controls(
    page: Watched, live_server: LiveServer
) -> None:
    sign_in(page.page, live_server, live_server.admin_key)
    p = page.page
    p.emulate_media(media="print")
    assert p.locator("#controls").is_hidden() and p.locator("nav").is_hidden()
    assert p.locator(".downloads").first.is_hidden()
    assert p.locator('[data-figure="disbursed"]').is_visible()
    assert p.locator("#alerts").is_visible()


def test_the_dashboard_fits_a_phone(browser: Browser, live_server: LiveServer) -> None:
    phone = watch(browser, width=390, height=844)
    try:
        sign_in(phone.page, live_server, live_server.admin_key)
        p = phone.page
        assert p.evaluate("document.documentElement.scrollWidth") <= 390
        assert p.locator('[data-figure="disbursed"]').is_visible()
        screenshot(p, "phone")
        assert_only_the_app(phone, live_server.base)
    finally:
        phone.page.context.close()


def test_every_control_is_labelled_and_reachable_by_keyboard(
    page: Watched, live_server: LiveServer
) -> None:
    p = page.page
    sign_in(p, live_server, live_server.admin_key)
    for route in ("#/", "#/projects", "#/projects/ZL7-2B"):
        with rendered(p):
            p.evaluate("r => { location.hash = r; }", route)
        unlabelled = p.evaluate(
            """() => [...document.querySelectorAll('input, select, button')]
                .filter(el => !el.closest('[hidden]'))
                .filter(el => el.tagName === 'BUTTON'
                    ? !el.textContent.trim() && !el.getAttribute('aria-label')
                    : !(el.labels && el.labels.length))
                .map(el => el.outerHTML)"""
        )
        assert unlabelled == [], route
    # The skip link, from the keyboard: focus moves to the content, the page stays.
    p.reload()  # the key is still in the tab's sessionStorage
    p.wait_for_function("() => document.body.dataset.ready")
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.className") == "skip"
    p.keyboard.press("Enter")
    assert p.evaluate("document.activeElement.id") == "main"
    assert p.evaluate("location.hash") == "#/projects/ZL7-2B"
    # Sorting from the keyboard.
    with rendered(p):
        p.evaluate("() => { location.hash = '#/projects'; }")
    p.locator('[data-sort="code"]').focus()
    p.keyboard.press("Enter")
    assert p.locator('th[aria-sort="descending"] [data-sort="code"]').count() == 1
