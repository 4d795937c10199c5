"""The web page in a real browser (``pytest -m browser``): ``station-sim app`` serves
it, headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by
Selenium) runs the default comparison with the French post doubled, the headings must
follow that setting, and the table (every column within the window) and a figure must
render.  The
screenshot goes to the test's own folder; ``STATION_SIM_SCREENSHOT=docs/app.png pytest
-m browser`` refreshes the guide's picture (a test run does not rewrite a tracked file
unasked)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"station-sim app exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"station-sim app did not answer at {url} within {seconds:.0f} s")


def test_the_page_runs_a_comparison_in_headless_chromium(tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("headless Chromium is missing: apt-get install -y chromium chromium-driver")
    screenshot = Path(os.environ.get("STATION_SIM_SCREENSHOT") or tmp_path / "app.png")
    port = _free_port()
    url = f"http://localhost:{port}"
    environment = dict(os.environ, STATION_SIM_APP_CACHE=str(tmp_path / "cache"))
    command = [sys.executable, "-m", "sim", "app", "--port", str(port)]
    server = subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.PIPE)
    try:
        _wait_until_serving(url, server, 60)
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--window-size=1500,3200"):  # fmt: skip
            options.add_argument(argument)
        browser = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
        try:
            browser.get(url)
            wait = WebDriverWait(browser, 90)
            run = wait.until(
                ready.element_to_be_clickable(
                    (By.XPATH, "//button[.//p[text()='Run the comparison']]")
                )
            )
            # A setting changed as a user would: the French post doubled, in its
            # expander; the headings and tables must then say so.
            browser.find_element(
                By.XPATH, "//summary[.//p[starts-with(text(), 'Settings of: French standard')]]"
            ).click()
            posts = wait.until(
                ready.element_to_be_clickable(
                    (By.XPATH, "//input[@aria-label='Posts: social workers (ISCG)']")
                )
            )
            posts.send_keys(Keys.CONTROL, "a")
            posts.send_keys("2", Keys.ENTER)
            time.sleep(3)  # the page reruns with the new value
            run = wait.until(
                ready.element_to_be_clickable(
                    (By.XPATH, "//button[.//p[text()='Run the comparison']]")
                )
            )
            started = time.monotonic()
            run.click()
            table = wait.until(
                ready.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='stTable']"))
            )
            wait.until(
                ready.presence_of_element_located(
                    (By.CSS_SELECTOR, "[data-testid='stVegaLiteChart'] canvas, "
                     "[data-testid='stVegaLiteChart'] svg")
                )
            )  # fmt: skip
            seconds = time.monotonic() - started
            text = browser.find_element(By.TAG_NAME, "body").text
            changed = "(changed on this page: 2 posts)"
            assert "What each model changes, compared with: French standard" in text
            assert changed in text.split("What each model changes, compared with:")[1][:200]
            assert "Unmet demand" in text
            # Every column of the comparison shows whole within the window's width.
            header = table.find_element(By.XPATH, ".//th[contains(., 'Clear difference?')]")
            width = browser.execute_script("return window.innerWidth")
            assert 0 < header.rect["x"] + header.rect["width"] <= width, header.rect
            # Streamlit's developer menu is not shown to the page's readers.
            assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stAppDeployButton']")
            assert "Deploy" not in text
            time.sleep(2)  # let the other figures finish drawing before the screenshot
            browser.save_screenshot(str(screenshot))
            print(f"default comparison shown in the browser after {seconds:.1f} s")
        finally:
            browser.quit()
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert screenshot.stat().st_size > 10_000
