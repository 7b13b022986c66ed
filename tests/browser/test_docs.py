"""`/docs` in a real browser with no internet: Swagger UI from the pinned package, served by the
app itself, renders both APIs' operations under the dashboard's content-security policy. The
browser resolves no host but 127.0.0.1, so a CDN could not answer; every resource the page loads
is same-origin and it reports no CSP violation. Screenshot: test-artifacts/docs.png."""
from __future__ import annotations

import threading

import pytest

from inventory_core.adapters.migrate import prepare
from inventory_core.config import Settings
from tests.browser.conftest import ARTIFACTS, screenshot
from tests.conftest import free_port, new_database_url

# Collects what the page's content-security policy refused, from before any script of the page.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});"""


@pytest.fixture(params=["shop", "factory"])
def app_url(request, tmp_path):
    from werkzeug.serving import make_server

    from factory_api import create_app as create_factory
    from shop_api import create_app as create_shop

    service = request.param
    url, drop = new_database_url("sqlite", tmp_path, service)
    prepare(service, url)
    settings = Settings(**{f"{service}_database_url": url})
    app = (create_shop if service == "shop" else create_factory)({"SETTINGS": settings})
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    drop()


def test_docs_render_offline_same_origin_under_the_dashboards_policy(app_url, offline_browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    service, base = app_url
    browser = offline_browser
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                            {"source": RECORD_VIOLATIONS})
    browser.get(f"{base}/docs")
    wait = WebDriverWait(browser, 60, poll_frequency=0.2)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 3)

    title = browser.find_element(By.CSS_SELECTOR, ".info .title").text
    assert ("Shop API" if service == "shop" else "Factory API") in title
    paths = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert ("/purchases" if service == "shop" else "/production-orders") in paths
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert loaded and all(url.startswith(base + "/") for url in loaded), loaded
    assert any(url.endswith("/openapi.json") for url in loaded)
    assert browser.execute_script("return window.__cspViolations") == []
    screenshot(browser, ARTIFACTS / f"docs-{service}.png", 1280)
