"""The dashboard's one door to the runtime: every read and action through runtime.control.

Screens call these methods from worker threads (never the UI thread: each may wait on
the network). A backend that cannot be reached raises `Disconnected` with one sentence;
a refused action (`BadInput`: the job changed state meanwhile, a read-only dashboard...)
raises `Refused`. Nothing else below runtime.control is imported by tui/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any

from runtime import control
from runtime.config import Config
from runtime.errors import BadInput, RuntimeJobError

STATE_TABS = ("waiting", "active", "delayed", "retrying", "failed", "completed", "canceled")
PAGE = 50  # jobs per page of the jobs screen
RETRYABLE = control.RETRYABLE  # the states a job can be retried from


class Disconnected(Exception):
    """The backend is unreachable; the text says which and why."""


class Refused(Exception):
    """An action was not done; the text says why (one sentence)."""


@dataclass
class BulkProgress:
    """How far a bulk action got: jobs looked at, done, skipped (changed state meanwhile,
    or not in a state the action applies to) and failed (with the last reason)."""

    seen: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    reason: str = ""

    def text(self) -> str:
        why = f" (last: {self.reason})" if self.reason else ""
        return f"{self.done:,} done, {self.skipped:,} skipped, {self.failed:,} failed{why}"


class DashboardData:
    """The backend of one dashboard, opened on first use and again after an outage."""

    def __init__(self, config: Config, *, read_only: bool = False) -> None:
        self.config = config
        self.read_only = read_only
        self._backend: Any = None
        self._plugins: Any = None
        self._lock = threading.Lock()  # one (re)connection at a time

    @property
    def display_url(self) -> str:
        return control.display_url(self.config)

    # -- plumbing --------------------------------------------------------------------
    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        """`operation(backend, *args)`, outages as Disconnected, refusals as Refused."""
        try:
            return operation(self._connected(), *args, **kwargs)
        except BadInput as exc:
            raise Refused(str(exc)) from None
        except control.outage_errors() as exc:
            self._drop()
            raise Disconnected(_sentence(exc)) from None
        except RuntimeJobError as exc:
            raise Refused(str(exc)) from None

    def _act(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        if self.read_only:
            raise Refused("this dashboard is read-only; no action is possible.")
        return self._call(operation, *args, **kwargs)

    def _connected(self) -> Any:
        with self._lock:
            if self._backend is None:
                self._backend = control.connect(self.config)
            return self._backend

    def _drop(self) -> None:
        with self._lock:
            if self._backend is not None:
                control.disconnect(self._backend)
            self._backend = None

    def plugins(self) -> Any:
        if self._plugins is None:
            self._plugins = control.load_plugins(self.config)
        return self._plugins

    def close(self) -> None:
        self._drop()

    # -- reads -----------------------------------------------------------------------
    def home(self) -> dict[str, Any]:
        return self._call(control.dashboard_home, self.config)

    def jobs(
        self, queue: str | None, state: str | None, cursor: str | None, job: str | None = None
    ) -> dict[str, Any]:
        return self._call(control.list_jobs, queue, state, job, PAGE, cursor)

    def search(
        self,
        queue: str | None,
        state: str,
        query: Any,
        job: str | None,
        cursor: str | None,
        limit: int = PAGE,
    ) -> dict[str, Any]:
        """One bounded step of a search (control.search_jobs): matches, where it stopped,
        how many jobs it looked at and how many the state holds."""
        budget = control.SEARCH_BUDGET  # read per call: a test may make the steps small
        return self._call(control.search_jobs, queue, state, query, job, cursor, limit, budget)

    def ids_with_prefix(self, prefix: str) -> list[str]:
        return self._call(control.jobs_with_id_prefix, prefix, PAGE)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call(control.show_job, job_id)

    def job_detail(self, job_id: str) -> dict[str, Any]:
        """The job as `job` shows it, plus `max_attempts` and `next_retry_at`."""
        return self._call(control.job_detail, self.plugins().registry, job_id)

    def timeline(self, job_id: str) -> list[dict[str, Any]]:
        """The job's events, oldest first (among the newest events of the log)."""
        events, _ = self._call(control.read_events, job_id=job_id, limit=100)
        return list(events)

    def failures(self) -> list[dict[str, Any]]:
        return self._call(control.failure_groups, self.config)

    def events(self, after: str | None, **filters: Any) -> tuple[list[dict[str, Any]], Any]:
        return self._call(control.read_events, after=after, limit=200, **filters)

    def alerts(self) -> list[dict[str, Any]]:
        return self._call(control.list_alerts, True)

    def workers(self) -> dict[str, Any]:
        """Heartbeats (stale ones marked), their jobs' running times, and stalled jobs."""
        return self._call(control.workers_overview, self.config)

    def stats(self, queue: str | None) -> dict[str, Any]:
        return self._call(control.queue_stats, self.config, queue)

    def metric_span(self, queue: str | None, span: str, job: str | None) -> dict[str, Any]:
        """Metrics over `span` ("1h", "24h", "30d"), the series narrowed to `job` if given."""
        return self._call(control.metric_span, self.config, queue, span, job)

    def plugins_and_cron(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The plugins loaded here (this process's view) and the cron jobs' last runs."""
        plugins = self.plugins()
        infos = [info.as_dict() for info in plugins.infos]
        return infos, self._call(control.cron_jobs, plugins.registry)

    # -- actions ---------------------------------------------------------------------
    def pause(self, queue: str, paused: bool) -> dict[str, Any]:
        operation = control.pause_queue if paused else control.resume_queue
        return self._act(operation, self.config, queue)

    def purge(self, queue: str, typed: str) -> int:
        """Delete every job of `queue` but running ones; `typed` must be the queue's name."""
        return self._act(control.purge_queue, self.config, queue, typed)

    def retry(self, job_id: str) -> dict[str, Any]:
        return self._act(control.retry_job, self.plugins().registry, job_id)

    def retry_edited(self, job_id: str, payload: Any) -> dict[str, Any]:
        """Retry with `payload` (as edited from the masked one); Refused says what is wrong."""
        limit = self.config.runtime.max_payload_bytes
        registry = self.plugins().registry
        return self._act(control.retry_job_edited, registry, job_id, payload, limit)

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._act(control.cancel_job, job_id)

    def delete(self, job_id: str) -> None:
        self._act(control.delete_job, job_id)

    def ack(self, alert_id: str) -> dict[str, Any]:
        return self._act(control.ack_alert, alert_id)

    def resolve(self, alert_id: str) -> dict[str, Any]:
        return self._act(control.resolve_alert, self.plugins(), alert_id)

    def requeue_stalled(self, job_id: str) -> dict[str, Any]:
        return self._act(control.requeue_stalled, self.config, job_id)

    def each(
        self, action: str, job_ids: list[str], stop: threading.Event
    ) -> Iterator[BulkProgress]:
        """`action` (retry, cancel, delete) on each job, one at a time, until `stop`; yields
        the progress after each. A job the action does not apply to any more is skipped;
        an outage ends the run (Disconnected) after what was done."""
        if self.read_only:
            raise Refused("this dashboard is read-only; no action is possible.")
        operation = {"retry": self.retry, "cancel": self.cancel, "delete": self.delete}[action]
        progress = BulkProgress()
        for job_id in job_ids:
            if stop.is_set():
                return
            try:
                operation(job_id)
                progress = replace(progress, seen=progress.seen + 1, done=progress.done + 1)
            except Refused as exc:
                progress = replace(
                    progress, seen=progress.seen + 1, skipped=progress.skipped + 1, reason=str(exc)
                )
            yield progress

    def act_on_matching(
        self,
        action: str,
        where: tuple[str | None, str, Any, str | None],
        stop: threading.Event,
    ) -> Iterator[BulkProgress]:
        """`action` on every job matching `where` (queue, state, query, job name), run in
        bounded chunks by control.act_on_matching, until `stop`; yields the progress after
        each chunk. An outage ends the run (Disconnected) after what was done."""
        if self.read_only:
            raise Refused("this dashboard is read-only; no action is possible.")
        queue, state, query, job = where
        registry = self.plugins().registry
        steps = self._call(control.act_on_matching, registry, action, queue, state, query, job)
        with closing(steps):  # stopping early still audits what was done
            while not stop.is_set():
                step = self._call(lambda _: next(steps, None))
                if step is None:
                    return
                yield BulkProgress(step["seen"], step["done"], step["skipped"])

    def run_cron_now(self, job: str) -> str:
        """Enqueue one run of the cron job `job` now; returns the new job's id."""
        return self._act(control.run_cron_now, self.config, self.plugins().registry, job)

    def act_on_group(self, action: str, group: dict[str, Any]) -> dict[str, int]:
        """`retry` or `delete` every job of a failure group; returns the report."""
        return self._act(control.act_on_failure_group, self.plugins().registry, action, group)


def _sentence(exc: BaseException) -> str:
    text = str(exc).rstrip(".") or type(exc).__name__
    return f"{text}."
