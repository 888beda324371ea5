"""The broker's Prometheus metrics, defined once, on a registry of our own.

Labels are low-cardinality and never carry personal data: outcomes, channels, topic roles,
escalation levels and consumer-group coordinates only, never a person, recipient or notice id.
A registry of our own keeps tests and several apps in one process from colliding with
prometheus_client's global one.
"""

import time
from collections.abc import Awaitable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import TypeVar

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The component at work (router, delivery, webhook, ...): the dead-letter counter's source.
# A process loop sets it once; a task inherits it; ``with component("webhook")`` narrows it.
COMPONENT: ContextVar[str] = ContextVar("sgb_component", default="broker")

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST
# The process's CPU, memory, open files, garbage collections and Python version, as on
# prometheus_client's global registry (the same collector objects: they hold no state).
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

# Seconds, from a millisecond's routing to a notice waiting a day for its inbox.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600,
                   86400)  # fmt: skip

EVENTS_IN = Counter(
    "sgb_events_in",
    "Events the router has handled, by outcome: routed, duplicate or dead_lettered.",
    ["outcome"],
    registry=REGISTRY,
)
NOTICES_OUT = Counter(
    "sgb_notices_out",
    "Notices published to the notices topic (Kafka acknowledged them).",
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "sgb_deliveries",
    "Notices handed to a channel (inbox, webhook), by outcome (stored, delivered, duplicate...).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "sgb_alerts",
    "Alerts (email, SMS) by channel and outcome: sent, retried, dead or cancelled (answered).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
WEBHOOK_RETRIES = Counter(
    "sgb_webhook_retries",
    "Webhook delivery attempts retried after a failure.",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "sgb_dead_letters",
    "Records published to the dead-letter topic, by the component that sent them.",
    ["source"],
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "sgb_escalations",
    "Escalation notices raised for missed deadlines, by escalation level.",
    ["level"],
    registry=REGISTRY,
)
MESSAGES_PUBLISHED = Counter(
    "sgb_messages_published",
    "Records Kafka acknowledged, by topic role (events, notices, dead_letters, audit, ...).",
    ["role"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "sgb_consumer_lag",
    "Records not yet consumed: highwater minus position, per assigned partition.",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
BATCH_RETRIES = Counter(
    "sgb_batch_retries",
    "Consumer batches retried after a transient failure, by consumer and error class.",
    ["consumer", "error"],
    registry=REGISTRY,
)
COMMITS_LOST_TO_REBALANCE = Counter(
    "sgb_commits_lost_to_rebalance",
    "Offset commits refused because the group rebalanced (the records are redelivered).",
    ["group"],
    registry=REGISTRY,
)

ROUTING_SECONDS = Histogram(
    "sgb_routing_seconds",
    "Time the router takes over one event, from reading it to its notices being published.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "sgb_delivery_seconds",
    "Time the delivery worker takes over one notice, by channel.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
NOTICE_TO_INBOX_SECONDS = Histogram(
    "sgb_notice_to_inbox_seconds",
    "From the router sealing a notice (its created_at) to the delivery worker handing it to "
    "the inbox; with sgb_routing_seconds, the broker's share of an event's way to an inbox.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
EVENT_TO_INBOX_SECONDS = Histogram(
    "sgb_event_to_inbox_seconds",
    "From an event's acceptance (the gateway's clock, or the agency's publishing straight to "
    "Kafka; Kafka's append time when the event carries neither) to the delivery worker "
    "handing its notice to the inbox: the sgb-accepted-at header, carried onto the notice.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "sgb_http_requests",
    "HTTP requests answered, by method, route template (never a path with ids) and status class.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "sgb_http_request_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
NOTICES_OPEN = Gauge(
    "sgb_notices_open",
    "Notices not yet acknowledged, by the recipient organisation's kind.",
    ["org_kind"],
    registry=REGISTRY,
)
NOTICES_OVERDUE = Gauge(
    "sgb_notices_overdue",
    "Open notices past their acknowledgement deadline, by the recipient organisation's kind.",
    ["org_kind"],
    registry=REGISTRY,
)
NOTICES_ESCALATED = Gauge(
    "sgb_notices_escalated",
    "Open notices that have been escalated, by the recipient organisation's kind.",
    ["org_kind"],
    registry=REGISTRY,
)


def status_class(status: int) -> str:
    """``2xx``, ``4xx``...: a label with five values, whatever the routes answer."""
    return f"{status // 100}xx"


T = TypeVar("T")


async def timed_each(histogram: Histogram, count: int, work: Awaitable[T]) -> T:
    """Awaits a batch's ``work`` and observes its duration once per record: each record
    waited that long. A batch that fails is not observed (it is retried, then counted)."""
    started = time.perf_counter()
    result = await work
    elapsed = time.perf_counter() - started
    for _ in range(count):
        histogram.observe(elapsed)
    return result


def observe_ages(histogram: Histogram, created: Iterable[datetime], now: datetime) -> None:
    """Observes how long ago each moment was (a clock step back counts as zero)."""
    for moment in created:
        histogram.observe(max(0.0, (now - moment).total_seconds()))


def exposition() -> bytes:
    """Every metric in Prometheus' text format."""
    return generate_latest(REGISTRY)


@contextmanager
def component(name: str) -> Iterator[None]:
    """Counts what is published inside the block (dead letters) as ``name``'s."""
    token = COMPONENT.set(name)
    try:
        yield
    finally:
        COMPONENT.reset(token)
