"""Drives the web console of a running `silt dev` in headless Chromium (Debian's
package, through Playwright from PyPI), as an operator would, and prints what it saw as
JSON for tests/e2e/console.rs. Screenshots of every page go to the folder given.

Usage: python console.py <base url> <screenshot folder> <scenario> [api key]
"""

import json
import os
import sys
import threading
import time
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE, SHOTS, SCENARIO = sys.argv[1], sys.argv[2], sys.argv[3]
KEY = sys.argv[4] if len(sys.argv) > 4 else None
os.makedirs(SHOTS, exist_ok=True)
expect.set_options(timeout=15_000)


def api(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if KEY:
        request.add_header("Authorization", f"Bearer {KEY}")
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=os.environ.get("SILT_CHROMIUM", "/usr/bin/chromium"),
        args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
    )


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def operator(page, report):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # The overview, and the skip link first in the keyboard order.
    response = page.goto(f"{BASE}/ui/")
    report["content_security_policy"] = response.headers.get("content-security-policy")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.keyboard.press("Tab")
    report["first_tab"] = page.evaluate("document.activeElement.textContent")

    # Create a topic with the form; a bad one answers a readable error.
    page.get_by_role("link", name="Topics").click()
    form = page.locator("#create-topic")
    form.get_by_label("Name").fill("orders")
    form.get_by_label("Partitions").fill("2")
    form.get_by_label("Retention (ms, empty: default)").fill("0")
    form.get_by_role("button", name="Create topic").click()
    report["bad_create_error"] = page.get_by_role("alert").first.inner_text(timeout=15_000)
    form.get_by_label("Retention (ms, empty: default)").fill("")
    form.get_by_role("button", name="Create topic").click()
    expect(page.locator("tr[data-topic='orders']")).to_be_visible()
    shot(page, "topics")

    # Produce over HTTP while the overview's throughput chart moves.
    stop = threading.Event()

    def produce():
        n = 0
        while not stop.is_set():
            api("POST", "/v1/topics/orders/records", {"records": [
                {"key": f"k{n + i}", "value": {"n": n + i}, "partition": (n + i) % 2} for i in range(50)]})
            n += 50
            time.sleep(0.05)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        page.get_by_role("link", name="Overview").click()
        card = page.locator("[data-metric='produce-records'] .value")
        expect(card).not_to_have_text("0", timeout=15_000)
        page.wait_for_timeout(2500)
        report["produce_rate_shown"] = card.inner_text()
        report["chart_points"] = page.locator("polyline[data-series='produced']").get_attribute("points")
        shot(page, "overview")
    finally:
        stop.set()
        producer.join()

    # Browse to an offset and see its record.
    page.goto(f"{BASE}/ui/#/topics/orders/records?partition=1&offset=7")
    row = page.locator("tr[data-offset='7']")
    expect(row).to_be_visible()
    report["record_7"] = row.inner_text()
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("tr[data-offset='27']")).to_be_visible()
    page.get_by_role("button", name="Previous page").click()
    expect(page.locator("tr[data-offset='7']")).to_be_visible()
    # From a time instead: one before every record starts at the first.
    browse = page.locator("#browse")
    browse.get_by_label("From offset").fill("")
    browse.get_by_label("or from time (UTC)").fill("2001-02-03T04:05:06")
    browse.get_by_role("button", name="Show").click()
    expect(page.locator("tr[data-offset='0']")).to_be_visible()
    report["from_time_first_offset"] = page.locator("tr[data-offset]").first.get_attribute("data-offset")
    browse.get_by_label("or from time (UTC)").fill("")
    shot(page, "records")

    # Tail live: a record produced now appears.
    page.get_by_role("button", name="Live tail").click()
    expect(page.locator("#tail-status")).to_be_visible()
    page.wait_for_timeout(500)
    api("POST", "/v1/topics/orders/records", {"records": [{"key": "live", "value": {"tail": "fresh"}, "partition": 1}]})
    expect(page.get_by_text('"tail": "fresh"')).to_be_visible()
    report["tail_saw"] = True
    page.get_by_role("button", name="Stop tail").click()

    # Produce a test record from the page.
    produce_form = page.locator("#produce")
    produce_form.get_by_label("Key").fill("from-ui")
    produce_form.get_by_label("Value (JSON or text)").fill('{"from": "console"}')
    produce_form.get_by_role("button", name="Produce").click()
    report["produced_from_ui"] = page.locator(".notice").first.inner_text()

    # A consumer group's lag falls to 0 as it consumes; reset it once it has no members.
    member = api("POST", "/v1/groups/billing/members", {"topics": ["orders"]})
    member_id = member["member_id"]
    page.goto(f"{BASE}/ui/#/groups/billing")
    total = page.locator("#total-lag")
    expect(total).not_to_have_text("0")
    report["lag_before"] = total.inner_text()
    for _ in range(50):
        batch = api("GET", f"/v1/groups/billing/members/{member_id}/records?max_records=500")
        offsets = {}
        for record in batch["records"]:
            offsets[(record["topic"], record["partition"])] = record["offset"] + 1
        if not offsets:
            break
        api("POST", "/v1/groups/billing/offsets", {
            "member_id": member_id, "generation": batch["generation"],
            "offsets": [{"topic": t, "partition": p, "offset": o} for (t, p), o in offsets.items()]})
        page.wait_for_timeout(300)
    expect(total).to_have_text("0")
    report["lag_fell_to_zero"] = True
    shot(page, "group")
    reset = page.locator("#reset-offsets")
    reset.get_by_role("button", name="Reset offsets").click()
    report["reset_with_member"] = page.get_by_role("alert").first.inner_text()
    api("DELETE", f"/v1/groups/billing/members/{member_id}")
    reset.get_by_label("Move committed offsets to").select_option("earliest")
    reset.get_by_role("button", name="Reset offsets").click()
    expect(total).not_to_have_text("0")
    report["lag_after_reset"] = total.inner_text()

    # The topic page, then deletion with confirmation.
    page.goto(f"{BASE}/ui/#/topics/orders")
    expect(page.locator("tr[data-partition='1']")).to_be_visible()
    shot(page, "topic")
    delete = page.locator("#delete-topic")
    button = delete.get_by_role("button", name="Delete topic")
    report["delete_disabled_before_confirming"] = button.is_disabled()
    delete.get_by_label('Type "orders" to confirm').fill("order")
    report["delete_disabled_on_a_typo"] = button.is_disabled()
    delete.get_by_label('Type "orders" to confirm').fill("orders")
    button.click()
    expect(page.get_by_role("heading", name="Topics")).to_be_visible()
    expect(page.locator("tr[data-topic='orders']")).to_have_count(0)
    report["topics_after_delete"] = [t["name"] for t in api("GET", "/v1/topics")["topics"]]

    # An API error reads as a message: a topic that is gone.
    page.goto(f"{BASE}/ui/#/topics/orders/records")
    report["missing_topic_error"] = page.get_by_role("alert").first.inner_text()

    # On a phone's screen nothing runs off to the side.
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{BASE}/ui/#/topics")
    expect(page.get_by_role("heading", name="Topics")).to_be_visible()
    report["phone_overflow"] = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    shot(page, "topics-phone")
    report["page_errors"] = errors


def many_partitions(page, report):
    started = time.monotonic()
    page.goto(f"{BASE}/ui/#/topics/wide")
    expect(page.locator("tr[data-partition='99']")).to_be_visible()
    report["wide_first_page_s"] = round(time.monotonic() - started, 3)
    report["wide_rows"] = page.locator("tr[data-partition]").count()
    page.get_by_role("button", name="Next partitions").click()
    expect(page.locator("tr[data-partition='199']")).to_be_visible()
    report["wide_rows_page_2"] = page.locator("tr[data-partition]").count()
    shot(page, "topic-10000-partitions")


def signed_in(page, report):
    page.goto(f"{BASE}/ui/#/topics")
    dialog = page.get_by_role("dialog", name="Sign in to Silt")
    expect(dialog).to_be_visible()
    dialog.get_by_label("API key").fill("silt_wrong_wrong")
    dialog.get_by_role("button", name="Sign in").click()
    report["wrong_key"] = dialog.get_by_role("alert").inner_text()
    dialog.get_by_label("API key").fill(KEY)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("tr[data-topic]").first).to_be_visible()
    report["visible_topics"] = page.locator("tr[data-topic]").evaluate_all("rows => rows.map(r => r.dataset.topic)")
    page.goto(f"{BASE}/ui/#/")
    report["overview_error"] = page.get_by_role("alert").first.inner_text()
    shot(page, "signed-in")


def main():
    report = {}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        {"operator": operator, "many_partitions": many_partitions, "signed_in": signed_in}[SCENARIO](page, report)
        browser.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
