"""Prometheus exposition: `runtime metrics` prints it, `runtime start --metrics-port N`
serves it on /metrics, with a /healthz probe, from the daemon process.

A custom collector reads the backend at scrape time (like a Prometheus exporter): queue
counts and alerts from `control.status`, job outcomes and wait/run quantiles from
runtime.stats. Outcome counters come from the lifetime totals, which never shrink, so
they are true counters whichever process is scraped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from runtime import control, stats
from runtime.backends import open_backend
from runtime.backends.base.metrics import QUEUE_WIDE
from runtime.backends.base.storage import COUNTED_STATES, Backend
from runtime.config import Config
from runtime.errors import BadInput

log = logging.getLogger("runtime.prometheus")

QUANTILE_MINUTES = 60  # wait/run quantiles cover the last hour, as `runtime stats` does
SEVERITIES = ("warning", "critical")
# Gauges of current counts; `completed` is a lifetime total, exposed as a counter instead.
GAUGE_STATES = tuple(state for state in COUNTED_STATES if state != "completed")


class RuntimeCollector(Collector):
    """Every metric of the runtime, read from the backend at each scrape."""

    def __init__(self, backend: Backend, config: Config) -> None:
        self.backend = backend
        self.config = config

    def collect(self) -> Iterable[Metric]:
        snapshot = control.status(self.backend, self.config)
        queues = [row["name"] for row in snapshot["queues"]]
        yield from _queue_metrics(snapshot["queues"])
        yield from _alert_metrics(snapshot["alerts"])
        live = GaugeMetricFamily("runtime_workers_live", "Live worker processes.")
        # Daemons publish heartbeats too: count the worker processes only, as the help says.
        live.add_metric([], sum(1 for w in snapshot["workers"] if w.get("kind") == "worker"))
        yield live
        yield from _outcome_metrics(self.backend.metrics.totals(queues))
        yield from _time_metrics(stats.job_summaries(self.backend, queues, QUANTILE_MINUTES))


def _queue_metrics(rows: list[dict[str, Any]]) -> Iterator[Metric]:
    jobs = GaugeMetricFamily("runtime_queue_jobs", "Jobs by state.", labels=["queue", "state"])
    paused = GaugeMetricFamily("runtime_queue_paused", "1 if paused.", labels=["queue"])
    workers = GaugeMetricFamily(
        "runtime_queue_workers", "Live worker threads or processes.", labels=["queue"]
    )
    completed = CounterMetricFamily(
        "runtime_queue_completed", "Jobs ever completed.", labels=["queue"]
    )
    for row in rows:
        for state in GAUGE_STATES:
            jobs.add_metric([row["name"], state], row[state])
        paused.add_metric([row["name"]], 1 if row["paused"] else 0)
        workers.add_metric([row["name"]], row["workers"])
        completed.add_metric([row["name"]], row["completed"])
    yield from (jobs, paused, workers, completed)


def _alert_metrics(alerts: list[dict[str, Any]]) -> Iterator[Metric]:
    firing = GaugeMetricFamily("runtime_alerts_firing", "Firing alerts.", labels=["severity"])
    for severity in SEVERITIES:
        count = sum(1 for a in alerts if a["severity"] == severity and a.get("state") == "firing")
        firing.add_metric([severity], count)
    yield firing


def _outcome_metrics(totals: dict[tuple[str, str, str], int]) -> Iterator[Metric]:
    jobs = CounterMetricFamily(
        "runtime_jobs",
        "Job attempts by outcome (completed, failed, retried).",
        labels=["queue", "job", "outcome"],
    )
    leases = CounterMetricFamily(
        "runtime_lease_expiries",
        "Expired leases: recovered (back to waiting) or stalled (dead-lettered).",
        labels=["queue", "outcome"],
    )
    for (queue, job, outcome), count in sorted(totals.items()):
        if job == QUEUE_WIDE:
            leases.add_metric([queue, outcome], count)
        else:
            jobs.add_metric([queue, job, outcome], count)
    yield from (jobs, leases)


def _time_metrics(rows: list[dict[str, Any]]) -> Iterator[Metric]:
    for kind, what in (("wait", "enqueued to started"), ("run", "run time of an attempt")):
        family = GaugeMetricFamily(
            f"runtime_job_{kind}_seconds",
            f"Quantiles over the last {QUANTILE_MINUTES} min of {what} (+-19%).",
            labels=["queue", "job", "quantile"],
        )
        for row in rows:
            for name, value in row[kind].items():
                if value is not None:
                    quantile = str(int(name[1:]) / 100)
                    family.add_metric([row["queue"], row["job"], quantile], value)
        yield family


def registry_for(backend: Backend, config: Config) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(backend, config))
    return registry


def exposition(backend: Backend, config: Config) -> str:
    """The Prometheus text format, as `runtime metrics` prints it."""
    return generate_latest(registry_for(backend, config)).decode()


# -- serving ---------------------------------------------------------------------------------
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_app(backend: Backend, config: Config) -> WSGIApp:
    """/metrics (prometheus_client's WSGI app) and /healthz: 200 while the backend answers
    a ping, 503 with the reason otherwise."""
    metrics = make_wsgi_app(registry_for(backend, config))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            status, body = _health(backend)
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]

    return app


def _health(backend: Backend) -> tuple[str, dict[str, Any]]:
    try:
        backend.ping()
    except Exception as exc:  # any failure to answer is "unhealthy", never a crash
        return "503 Service Unavailable", {"status": "unavailable", "error": str(exc)}
    return "200 OK", {"status": "ok", "backend": backend.display_url}


class _QuietHandler(WSGIRequestHandler):
    """Scrapes every few seconds would flood stderr with wsgiref's access log."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics http: " + format, *args)


@contextlib.contextmanager
def serving(config: Config, address: tuple[str, int] | None) -> Iterator[None]:
    """Serve /metrics and /healthz on `address` (host, port) in a background thread while
    the block runs; nothing when `address` is None."""
    if address is None:
        yield
        return
    host, port = address
    backend = open_backend(config.runtime.backend, config.base_dir)
    try:
        server = make_server(
            host, port, make_app(backend, config), ThreadingWSGIServer, _QuietHandler
        )
    except OSError as exc:
        backend.close()
        raise BadInput(f"cannot serve metrics on {host}:{port}: {exc.strerror}.") from None
    thread = threading.Thread(target=server.serve_forever, name="MetricsHTTP", daemon=True)
    thread.start()
    log.info("serving /metrics and /healthz on http://%s:%d", host, port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        backend.close()
