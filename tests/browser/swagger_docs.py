"""#14 item 2: /docs in a real browser. Headless Chromium (Debian's `chromium` and
`chromium-driver`) through WebDriver opens Swagger UI, clicks "Authorize", logs in with the
password flow against /auth/session, runs "Try it out" on GET /dashboard/metrics, reads the 200
and the owner from the page, and saves a screenshot.

usage: swagger_docs.py <base url> <username> <password> <screenshot.png>   -> prints "ok"
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

base, user, password, shot = sys.argv[1:5]

opts = Options()
opts.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1280,1400"):
    opts.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
wait = WebDriverWait(driver, 20)


def click(css, within=None):
    el = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()
    return el


try:
    driver.get(base + "/docs/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".information-container")))
    # Authorize: the OAuth2 password flow of the document's security scheme.
    click("button.btn.authorize")
    wait.until(EC.visibility_of_element_located((By.ID, "oauth_username"))).send_keys(user)
    driver.find_element(By.ID, "oauth_password").send_keys(password)
    click(".auth-btn-wrapper button.authorize")
    # Logged in: the dialog offers "Logout" instead.
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".auth-btn-wrapper button.btn-done")))
    wait.until(lambda d: any(b.text.strip() == "Logout"
                             for b in d.find_elements(By.CSS_SELECTOR, ".auth-btn-wrapper button")))
    click(".auth-btn-wrapper button.btn-done")
    # Try it out on GET /dashboard/metrics.
    click("#operations-protected-dashboard .opblock-summary")
    click("#operations-protected-dashboard .try-out__btn")
    click("#operations-protected-dashboard button.execute")
    status = wait.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#operations-protected-dashboard .live-responses-table tr.response .response-col_status")))
    body = driver.find_element(
        By.CSS_SELECTOR, "#operations-protected-dashboard .live-responses-table tr.response .response-col_description pre")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", status)
    driver.save_screenshot(shot)
    if status.text.strip() != "200":
        sys.exit(f"FAILED: status {status.text!r}, body {body.text!r}")
    if f'"owner": "{user}"' not in body.text and f'"owner":"{user}"' not in body.text:
        sys.exit(f"FAILED: body {body.text!r}")
    print("ok")
finally:
    try:
        driver.save_screenshot(shot)
    except Exception:
        pass
    driver.quit()
