"""Every read and admin operation an operator uses. The CLI and the dashboard call this
package only (`from runtime import control`); neither knows how a backend stores anything.

One module per concept: connection (open a backend, load the plugins), jobs (one job's
record and its actions), bulk (searches and actions over every matching job, a chunk at a
time), failures (the dead-letter set grouped by error), queues (pause, purge, clean,
retention, metrics), overview (status, the dashboard's home, workers and cron), event_log
and alerts."""

from runtime.control.alerts import (
    ack_alert,
    list_alerts,
    resolve_alert,
)
from runtime.control.bulk import (
    BULK_ACTIONS,
    SEARCH_BUDGET,
    act_on_matching,
    delete_all,
    retry_all,
    search_jobs,
)
from runtime.control.connection import (
    connect,
    disconnect,
    display_url,
    load_plugins,
    outage_errors,
)
from runtime.control.event_log import (
    EVENT_FILTER_WINDOW,
    EVENT_TYPES,
    read_events,
)
from runtime.control.failures import (
    FAILURE_SCAN,
    act_on_failure_group,
    failure_groups,
)
from runtime.control.jobs import (
    CHUNK,
    MAX_PAGE,
    RETRYABLE,
    FreshHeads,
    cancel_job,
    delete_job,
    job_detail,
    jobs_with_id_prefix,
    list_jobs,
    progress_eta,
    record_of,
    retry_job,
    retry_job_edited,
    show_job,
    shown_record,
)
from runtime.control.overview import (
    ACTIVE_SCAN,
    cron_jobs,
    dashboard_home,
    requeue_stalled,
    run_cron_now,
    stall_reason,
    status,
    status_exit_code,
    workers_overview,
)
from runtime.control.queues import (
    METRIC_SPANS,
    PENDING_STATES,
    apply_retention,
    clean,
    drain_queue,
    forget_idle_queues,
    forget_queue,
    known_queue,
    metric_span,
    pause_queue,
    purge_queue,
    queue_stats,
    resume_queue,
)
from runtime.errors import BadInput
from runtime.search import JobQuery

__all__ = [
    "ACTIVE_SCAN",
    "BULK_ACTIONS",
    "BadInput",
    "CHUNK",
    "EVENT_FILTER_WINDOW",
    "EVENT_TYPES",
    "FAILURE_SCAN",
    "FreshHeads",
    "JobQuery",
    "MAX_PAGE",
    "PENDING_STATES",
    "RETRYABLE",
    "SEARCH_BUDGET",
    "ack_alert",
    "act_on_failure_group",
    "act_on_matching",
    "apply_retention",
    "cancel_job",
    "clean",
    "connect",
    "cron_jobs",
    "run_cron_now",
    "dashboard_home",
    "delete_all",
    "delete_job",
    "disconnect",
    "display_url",
    "drain_queue",
    "failure_groups",
    "forget_idle_queues",
    "forget_queue",
    "job_detail",
    "jobs_with_id_prefix",
    "known_queue",
    "list_alerts",
    "list_jobs",
    "load_plugins",
    "outage_errors",
    "pause_queue",
    "progress_eta",
    "purge_queue",
    "queue_stats",
    "METRIC_SPANS",
    "metric_span",
    "read_events",
    "record_of",
    "requeue_stalled",
    "resolve_alert",
    "resume_queue",
    "retry_all",
    "retry_job",
    "retry_job_edited",
    "search_jobs",
    "show_job",
    "shown_record",
    "stall_reason",
    "status",
    "status_exit_code",
    "workers_overview",
]
