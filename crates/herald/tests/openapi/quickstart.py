"""The README's quickstart through a Python client generated from Herald's OpenAPI document.

Usage: quickstart.py BASE_URL ADMIN_TOKEN RECEIVER_URL
(the generated package `herald_client` must be importable). Prints the event id, then exits 0
once the delivery to RECEIVER_URL succeeded, or 1 with the reason.
"""

import sys
import time

from herald_client import AuthenticatedClient
from herald_client.api.deliveries import list_deliveries
from herald_client.api.event_types import create_event_type
from herald_client.api.events import publish_event
from herald_client.api.subscriptions import create_subscription
from herald_client.api.tenants import create_tenant
from herald_client.models import (
    CreateEventType,
    CreateSubscription,
    CreateTenant,
    EventTypeView,
    ListDeliveryView,
    PublishEvent,
    PublishResponse,
    SubscriptionView,
    TenantView,
)


def expect(what, response, model):
    """The parsed body, which must be of `model` (the client parses by documented status)."""
    if not isinstance(response.parsed, model):
        sys.exit(f"{what}: HTTP {response.status_code}: {response.content!r}")
    return response.parsed


def main(base_url, token, receiver_url):
    client = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)
    expect(
        "create event type",
        create_event_type.sync_detailed(
            client=client,
            body=CreateEventType(name="consent.revoked", description="A consent was revoked."),
        ),
        EventTypeView,
    )
    tenant = expect(
        "create tenant",
        create_tenant.sync_detailed(client=client, body=CreateTenant(name="Acme Bank")),
        TenantView,
    )
    expect(
        "create subscription",
        create_subscription.sync_detailed(
            client=client,
            body=CreateSubscription(
                tenant_id=tenant.id, url=receiver_url, event_types=["consent.*"]
            ),
        ),
        SubscriptionView,
    )
    published = expect(
        "publish",
        publish_event.sync_detailed(
            client=client,
            body=PublishEvent(
                type_="consent.revoked",
                payload={"consent_id": "c_123"},
                tenant_id=tenant.id,
            ),
        ),
        PublishResponse,
    )
    if published.deliveries != 1:
        sys.exit(f"publish made {published.deliveries} deliveries, not 1")
    print(published.id, flush=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = expect(
            "list deliveries",
            list_deliveries.sync_detailed(client=client, event_id=published.id),
            ListDeliveryView,
        )
        statuses = [delivery.status for delivery in page.data]
        if statuses == ["succeeded"]:
            return
        time.sleep(0.1)
    sys.exit(f"the delivery did not succeed within 30 s: {statuses}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
