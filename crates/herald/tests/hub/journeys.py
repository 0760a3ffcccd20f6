"""The Hub's user journeys in a real headless Chromium (Debian's), driven by Playwright.

Run by crates/herald/tests/hub.rs, which starts `herald serve` and the receivers and passes
their addresses in the environment. When a journey needs the receiver to change (fail, then
succeed), this script prints `need <what>` and waits for `ready` on stdin. Each journey
prints `journey ok: <name>` when everything it claims was seen. Screenshots of every main
page at 1280 and 390 px go to SHOTS_DIR.
"""

import json
import os
import re
import sys
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

HUB = os.environ["HUB_URL"]
TOKEN = os.environ["ADMIN_TOKEN"]
RECEIVER = os.environ["RECEIVER_URL"]
ATTACKER = os.environ["ATTACKER_URL"]
SHOTS = os.environ["SHOTS_DIR"]
# A second server that does not retry, so failed deliveries are failed at once (recover).
NO_RETRY_HUB = os.environ["NO_RETRY_HUB_URL"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WAIT_MS = 15000
EVENT_TYPE = "order.created"


def api(method, path, body=None, hub=None):
    request = urllib.request.Request(
        (hub or HUB) + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def need(what):
    print("need " + what, flush=True)
    answer = sys.stdin.readline().strip()
    assert answer == "ready", "the test answered %r to need %s" % (answer, what)


def done(journey):
    print("journey ok: " + journey, flush=True)


def shot(page, name):
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path="%s/%s-%d.png" % (SHOTS, name, width), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def publish(tenant_id, n):
    return api("POST", "/api/v1/events",
               {"type": EVENT_TYPE, "tenant_id": tenant_id, "payload": {"order": n, "note": "<b>not bold</b>"}})


def sign_in_operator(page, hub=None):
    page.goto((hub or HUB) + "/hub/signin")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in as operator").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()


def sign_in_tenant(page, client_id, secret):
    page.goto(HUB + "/hub/signin")
    page.get_by_label("Client ID").fill(client_id)
    page.get_by_label("Client secret").fill(secret)
    page.get_by_role("button", name="Sign in as subscriber").click()


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to the Herald Hub")).to_be_visible()


def main():
    api("POST", "/api/v1/event-types", {"name": EVENT_TYPE, "description": "An order was placed."})
    acme = api("POST", "/api/v1/tenants", {"name": "Acme"})
    other = api("POST", "/api/v1/tenants", {"name": "Other Corp"})
    api("POST", "/api/v1/subscriptions", {
        "tenant_id": other["id"], "url": RECEIVER + "/other-tenant-only", "event_types": [EVENT_TYPE]})
    # Another tenant asks for every herald.* event: the operational events are not its own.
    other_herald = api("POST", "/api/v1/subscriptions", {
        "tenant_id": other["id"], "url": RECEIVER + "/other-herald", "event_types": ["herald.*"]})
    # The operator's own subscription to Herald's operational events, in the tenant the server
    # names with --operator-tenant.
    operator = {"id": os.environ["OPERATOR_TENANT_ID"]}
    operator_sub = api("POST", "/api/v1/subscriptions", {
        "tenant_id": operator["id"], "url": RECEIVER + "/operator-desk", "event_types": ["herald.*"]})

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page = context.new_page()

        # A wrong secret shows a clear error next to the form.
        sign_in_tenant(page, acme["client_id"], "wrong-secret")
        expect(page.get_by_role("alert")).to_contain_text("client ID or the client secret is wrong")
        shot(page, "signin")
        done("wrong_secret_shows_a_clear_error")

        # The operator signs in and creates Acme's subscription to the receiver.
        sign_in_operator(page)
        page.get_by_role("link", name="Subscriptions", exact=True).click()
        page.get_by_role("link", name="New subscription").click()
        page.get_by_label("Tenant").select_option(acme["id"])
        page.get_by_label("Endpoint URL").fill(RECEIVER + "/acme")
        page.get_by_label(EVENT_TYPE).check()
        shot(page, "subscription-new")
        page.get_by_role("button", name="Create subscription").click()
        expect(page.get_by_text("the Hub shows it only this once")).to_be_visible()
        secret = page.locator("#new-secret").inner_text()
        assert secret.startswith("whsec_"), secret
        expect(page.get_by_role("button", name="Copy")).to_be_visible()
        subscription_id = re.search(r"sub_[0-9a-f]{32}", page.content()).group(0)
        page.goto(HUB + "/hub/subscriptions/" + subscription_id)
        assert secret not in page.content(), "the secret is shown only once"
        done("operator_creates_a_tenants_subscription")

        # A published event's delivery appears on the open deliveries page without a reload.
        page.goto(HUB + "/hub/deliveries?subscription_id=" + subscription_id)
        expect(page.get_by_text("No deliveries yet.")).to_be_visible()
        page.evaluate("window.__notReloaded = true")
        publish(acme["id"], 1)
        expect(page.locator("tr[data-status=succeeded]")).to_have_count(1)
        assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
        shot(page, "deliveries")
        done("published_delivery_appears_without_reload")

        # The receiver fails: the open overview shows the failing subscription within 5 s,
        # without a reload.
        page.goto(HUB + "/hub")
        expect(page.locator("li[data-failing]")).to_have_count(0)
        page.evaluate("window.__notReloaded = true")
        need("receiver-fails")
        event = publish(acme["id"], 2)
        expect(page.locator("li[data-failing=%s]" % subscription_id)).to_be_visible(timeout=5000)
        expect(page.locator("li[data-failing=%s]" % subscription_id)).to_contain_text("status 500")
        assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
        shot(page, "overview-failing")
        done("newly_failing_subscription_shows_on_the_overview_within_5s")

        # The delivery's attempts show their status and the next retry.
        page.goto(HUB + "/hub/events/" + event["id"])
        expect(page.locator("pre.payload")).to_contain_text('"note": "<b>not bold</b>"')
        shot(page, "event")
        page.locator("table.deliveries a").first.click()
        expect(page.locator("li.attempt.failed").first).to_be_visible()
        expect(page.locator("li.attempt.failed").first).to_contain_text("status 500")
        expect(page.locator("#next-retry")).to_contain_text("UTC")
        expect(page.locator("#delivery-status")).to_contain_text("pending")
        delivery_url = page.url
        shot(page, "delivery-failing")
        done("failed_attempts_show_status_and_next_retry")

        # The connectivity test explains the failing step.
        page.goto(HUB + "/hub/subscriptions/" + subscription_id)
        page.get_by_role("button", name="Test connectivity").click()
        expect(page.get_by_role("heading", name="Connectivity test failed")).to_be_visible()
        expect(page.locator("dd.step")).to_contain_text("non-2xx status")
        expect(page.locator("dd.meaning")).to_contain_text("answered, but with a status other than 2xx")
        expect(page.locator("dd.advice")).to_be_visible()
        shot(page, "subscription-test-failed")
        done("connectivity_test_explains_the_failing_step")

        # Redeliver after the receiver is fixed: the delivery succeeds.
        need("receiver-succeeds")
        page.goto(delivery_url)
        page.get_by_role("button", name="Redeliver now").click()
        expect(page.locator("#delivery-status")).to_contain_text("succeeded")
        expect(page.locator("li.attempt.ok").last).to_contain_text("redelivery")
        shot(page, "delivery")
        done("redeliver_succeeds")

        page.goto(HUB + "/hub")
        expect(page.locator("svg[role=img]").first).to_be_visible()
        shot(page, "overview")
        page.goto(HUB + "/hub/subscriptions")
        shot(page, "subscriptions")
        page.goto(HUB + "/hub/events")
        shot(page, "events")

        # A form posted from another origin is refused and changes nothing, even when it
        # carries this session's own token (as if it had leaked).
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        need("attack-page %s %s" % (HUB + "/hub/subscriptions/" + subscription_id + "/status", csrf))
        page.goto(ATTACKER + "/attack")
        page.get_by_role("button", name="Win a prize").click()
        expect(page.get_by_role("alert")).to_contain_text("sent from another site")
        status = api("GET", "/api/v1/subscriptions/" + subscription_id)["status"]
        assert status == "active", status
        done("csrf_from_another_origin_is_refused")

        # The tenant signs in and sees only its own data.
        page.goto(HUB + "/hub")
        sign_out(page)
        sign_in_tenant(page, acme["client_id"], acme["client_secret"])
        expect(page.get_by_text("Signed in as Acme")).to_be_visible()
        page.get_by_role("link", name="Subscriptions", exact=True).click()
        expect(page.locator("tr[data-subscription]")).to_have_count(1)
        assert "/other-tenant-only" not in page.content()
        page.goto(HUB + "/hub/deliveries")
        assert "/other-tenant-only" not in page.content()
        other_sub = api("GET", "/api/v1/subscriptions?tenant_id=" + other["id"])["data"][0]["id"]
        response = page.goto(HUB + "/hub/subscriptions/" + other_sub)
        assert response.status == 404, response.status
        done("tenant_sees_only_its_own_data")

        # The tenant asks for help from its subscription; the operator receives the request in
        # the Hub and as a herald.support.requested event, and answers it.
        page.goto(HUB + "/hub/subscriptions/" + subscription_id)
        page.get_by_label("What happened, and what do you need?").fill("Deliveries failed with 500 <script>alert(1)</script>")
        page.get_by_role("button", name="Send to the operator").click()
        expect(page.get_by_role("heading", name="Support request")).to_be_visible()
        expect(page.locator("p.message")).to_contain_text("<script>alert(1)</script>")
        expect(page.locator("pre.payload")).to_contain_text('"attempts"')
        expect(page.locator("pre.payload")).to_contain_text('"latest_connectivity_test"')
        assert "whsec_" not in page.locator("pre.payload").inner_text(), "no secret in the diagnostics"
        support_url = page.url
        shot(page, "support-request")
        sign_out(page)
        sign_in_operator(page)
        page.get_by_role("link", name="Support", exact=True).click()
        expect(page.locator("tr[data-support]")).to_have_count(1)
        shot(page, "support")
        page.locator("tr[data-support] a").first.click()
        page.get_by_label("Your answer").fill("Your endpoint is back; I recovered the failed deliveries.")
        page.get_by_role("button", name="Send answer").click()
        expect(page.locator("#support-status")).to_contain_text("answered")
        expect(page.locator("#support-answer")).to_contain_text("I recovered")
        assert page.url == support_url
        page.goto(HUB + "/hub/deliveries?subscription_id=" + operator_sub["id"])
        expect(page.locator("tr[data-status=succeeded]", has_text="herald.support.requested")).to_have_count(1)
        # Written in the same pass as the operator's: none now means none ever.
        others = api("GET", "/api/v1/deliveries?subscription_id=" + other_herald["id"])["data"]
        assert others == [], others
        done("support_request_reaches_the_operator")

        # Recover: failed deliveries since a time are sent again, with a progress bar that a
        # reload shows.
        hub = NO_RETRY_HUB
        api("POST", "/api/v1/event-types", {"name": EVENT_TYPE}, hub=hub)
        tenant = api("POST", "/api/v1/tenants", {"name": "Recovering"}, hub=hub)
        sub = api("POST", "/api/v1/subscriptions", {
            "tenant_id": tenant["id"], "url": RECEIVER + "/recovering", "event_types": [EVENT_TYPE]}, hub=hub)
        need("receiver-fails")
        for n in range(3):
            api("POST", "/api/v1/events", {"type": EVENT_TYPE, "tenant_id": tenant["id"], "payload": {"n": n}}, hub=hub)
        second = browser.new_context(viewport={"width": 1280, "height": 900})
        page = second.new_page()
        sign_in_operator(page, hub)
        page.goto(hub + "/hub/deliveries?status=failed&subscription_id=" + sub["id"])
        expect(page.locator("tr[data-status=failed]")).to_have_count(3)
        need("receiver-succeeds")
        page.goto(hub + "/hub/subscriptions/" + sub["id"])
        page.get_by_role("button", name="Recover").click()
        expect(page.locator("[data-recovery-status=done]")).to_contain_text("3 of 3 requeued")
        expect(page.locator("progress#recovery-progress")).to_have_attribute("value", "3")
        page.reload()
        expect(page.locator("[data-recovery-status=done]")).to_contain_text("3 of 3 requeued")
        page.goto(hub + "/hub/deliveries?status=succeeded&subscription_id=" + sub["id"])
        expect(page.locator("tr[data-status=succeeded]")).to_have_count(3)
        page.goto(hub + "/hub/subscriptions/" + sub["id"])
        shot(page, "subscription-recovered")
        done("recover_a_batch_with_its_progress")

        browser.close()


if __name__ == "__main__":
    main()
