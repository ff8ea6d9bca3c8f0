"""Speak Friend (Python) in headless Chromium (selenium + Debian's chromedriver): started with its
one command on a throwaway primary + sync + async cluster, sign up, log out and in, add a note
and see it at once although the list is read from an asynchronous standby replaying 2 s late,
fail a login with the careful message. A screenshot of each step is kept under
target/tmp/speakfriend-py-screenshots/."""

import os
import signal
import subprocess
import sys
import time

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(HERE))
SHOTS = os.path.join(REPO, "target", "tmp", "speakfriend-py-screenshots")


@pytest.fixture(scope="module")
def app():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([HERE, os.path.join(REPO, "python"),
                                                        os.path.join(REPO, "python", "retort-sqlalchemy")])}
    proc = subprocess.Popen([sys.executable, "-m", "speakfriend", "--port", "0"], cwd=HERE, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    url = None
    began = time.monotonic()
    while url is None:
        line = proc.stdout.readline()
        if not line:
            pytest.fail("speakfriend exited:\n" + "".join(lines))
        lines.append(line)
        if " is at http://" in line:
            url = line.split(" is at ")[1].split()[0].rstrip("/")
        assert time.monotonic() - began < 120, "".join(lines)
    yield url
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopped the cluster and removed" in rest, rest


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--window-size=900,700",
              f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(a)
    # Chromium on a busy 2-core machine sometimes misses chromedriver's start-up deadline.
    for attempt in range(3):
        try:
            driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
            break
        except Exception:
            if attempt == 2:
                raise
            time.sleep(2)
    yield driver
    driver.quit()


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, f"{name}.png")
    driver.save_screenshot(path)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def submit(driver, fields, button):
    for field_id, value in fields:
        el = driver.find_element(By.ID, field_id)
        el.clear()
        el.send_keys(value)
    old = driver.find_element(By.ID, button)
    old.click()
    WebDriverWait(driver, 15).until(_gone(old))


def _gone(element):
    """True once `element` belongs to a page that has been replaced."""

    def check(_driver):
        try:
            element.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            # Chromium may answer this, instead of "stale", while the page is being replaced.
            if "does not belong to the document" in str(e):
                return True
            raise

    return check


def text(driver, element_id):
    return WebDriverWait(driver, 15).until(ec.presence_of_element_located((By.ID, element_id))).text


def test_sign_up_add_a_note_read_from_the_standby_and_fail_a_login(app, browser):
    d = browser
    d.get(f"{app}/signup")
    submit(d, [("username", "frodo"), ("password", "mellon-friend")], "submit")
    assert "Your notes" in d.find_element(By.TAG_NAME, "h2").text
    assert text(d, "who") == "frodo"
    shot(d, "1-signed-up")

    submit(d, [], "logout")
    submit(d, [("username", "frodo"), ("password", "mellon-friend")], "submit")
    assert "Your notes" in d.find_element(By.TAG_NAME, "h2").text
    shot(d, "2-logged-in")

    began = time.monotonic()
    submit(d, [("body", "Speak, friend, and enter")], "add")
    assert "Speak, friend, and enter" in text(d, "notes")
    assert time.monotonic() - began >= 1.5, "the standby replays 2 s late, so the page waited for it"
    source = text(d, "source")
    assert "asynchronous standby, which replayed your last write" in source, source
    shot(d, "3-note-from-the-standby")

    submit(d, [], "logout")
    submit(d, [("username", "frodo"), ("password", "speak-friend")], "submit")
    refused = text(d, "error")
    assert "do not match" in refused
    shot(d, "4-wrong-password")
    submit(d, [("username", "sauron"), ("password", "one-ring")], "submit")
    assert text(d, "error") == refused, "an unknown user gets the same words"
    # A form without its CSRF token is refused.
    d.execute_script("document.querySelector('input[name=csrf_token]').remove()")
    submit(d, [("username", "frodo"), ("password", "mellon-friend")], "submit")
    assert "Your notes" not in d.page_source
