"""The web app: the generation panel served by Voilà, tested over real HTTP on 127.0.0.1 and in headless Chromium
(Debian's ``chromium`` + ``chromium-driver``, driven by selenium; ``make test`` installs them when missing).

One Voilà server (a real subprocess, a free port) serves both tests.  Outside CI a missing browser skips the
browser test; in CI (``CI`` set) it fails.  ``GSOC_UPDATE_SCREENSHOT=1 pytest tests/test_app.py -k chromium``
rewrites ``docs/app_screenshot.png`` (README, notebook 04) with the page the browser test drew, cropped to its content.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from gsoc_helpers.app.server import APP_NOTEBOOK, app_environment, voila_command
from gsoc_helpers.cli import main as cli_main

pytest.importorskip("voila")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "app_screenshot.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory):
    port = _free_port()
    env = app_environment(tmp_path_factory.mktemp("app_out"))
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            voila_command(port), stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=tmp_path_factory.getbasetemp()
        )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    break  # the server listens once it is ready
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"Voilà did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        try:
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_app_command_line():
    cmd = voila_command(9000)
    assert cmd[1:4] == ["-m", "voila", str(APP_NOTEBOOK)] and "--port=9000" in cmd and "--Voila.ip=127.0.0.1" in cmd
    assert APP_NOTEBOOK.is_file()
    with pytest.raises(SystemExit) as exit_info:  # argparse's one-line error for a bad port
        cli_main(["app", "--port", "70000"])
    assert exit_info.value.code == 2
    with pytest.raises(ValueError, match="port"):
        voila_command(70000)


@pytest.mark.slow
def test_app_page_over_http(voila_url):
    with urllib.request.urlopen(voila_url, timeout=300) as resp:
        assert resp.status == 200
        page = resp.read().decode()
    assert "Class-conditional generation" in page
    assert "application/vnd.jupyter.widget-view+json" in page  # the panel was executed and rendered
    assert "Traceback" not in page and "Cannot generate" not in page
    assert "panel = GeneratorPanel()" not in page  # sources hidden: the page is the app, not the notebook


def crop_to_content(path: Path, margin: int = 12) -> tuple[int, int]:
    """Crop a screenshot to the box of its non-white pixels plus ``margin`` px (the page's empty right and bottom
    go); rewrite it as an optimized PNG and return its (width, height)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        rgb = im.convert("RGB")
    box = ImageOps.invert(rgb.convert("L")).point(lambda v: 255 if v > 8 else 0).getbbox()
    assert box is not None, f"{path} is blank"
    left, top, right, bottom = box
    cropped = rgb.crop(
        (max(0, left - margin), max(0, top - margin), min(rgb.width, right + margin), min(rgb.height, bottom + margin))
    )
    cropped.save(path, optimize=True)
    return cropped.size


def _chromium():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("chromium/chromium-driver missing in CI: `make test` installs them (apt-get)")
        pytest.skip("Debian's chromium and chromium-driver are not installed (make browser)")
    webdriver = pytest.importorskip("selenium.webdriver")
    return webdriver


@pytest.mark.slow
def test_app_in_headless_chromium(voila_url, tmp_path):
    webdriver = _chromium()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1100,900",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(300)
        driver.get(voila_url)
        wait = WebDriverWait(driver, 240)
        select = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".widget-select-multiple select"))
        status = driver.find_element(By.CSS_SELECTOR, ".widget-html-content")
        wait.until(lambda d: "airplane, automobile, bird x 6" in status.text)  # the first grid was drawn by the kernel
        picker = Select(select)
        picker.deselect_all()
        picker.select_by_visible_text("cat")
        picker.select_by_visible_text("ship")
        button = next(b for b in driver.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "generate")
        button.click()
        wait.until(lambda d: ": cat, ship x 6 images" in status.text)
        assert status.text.startswith("student on torch") and "Cannot" not in status.text
        img = driver.find_element(By.CSS_SELECTOR, ".widget-image")
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalHeight", img))
        w, h = driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img)
        assert h == 2 * (2 * 34 + 2) and w > 6 * 34 * 2  # two rows of 32 px images, upscaled 2x, labels on the left
        shot = tmp_path / "app.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        width, height = crop_to_content(shot)
        assert 600 < width < 1000 and 400 < height < 700  # the title, the controls and the grid; no empty page
        if os.environ.get("GSOC_UPDATE_SCREENSHOT"):
            shutil.copyfile(shot, SCREENSHOT)
    finally:
        driver.quit()
