"""Every Redis key the runtime uses, in one place (the daemon, the control plane and the
dashboard must never disagree on a name). Lua scripts get the same names through
`lua_prelude()`, generated from the constants below, so no name is spelt twice.

Layout (all under the `rt:` prefix):

    rt:job:{id}                    hash: one job record (RECORD_KEYS fields but `payload`,
                                   read from `data`, the message, which holds it: stored
                                   once; `token`, the live claim's, and `seq`, its push
                                   sequence number; dicts JSON-encoded; absent field = None,
                                   but absent `stalls` = 0: it is written on the first stall;
                                   `cancel_requested`: the token of the claim an operator
                                   asked to cancel, see lua/cancel.lua)
    rt:seq                         counter: global push sequence (FIFO tie-breaker)
    rt:jobs                        zset: every job id, scored by its push sequence number
                                   (= enqueue order, without the ties a clock would have)
    rt:queues                      set: every queue that ever had a job pushed
    rt:paused                      set: paused queue names
    rt:workers                     hash: worker id -> JSON {"expires_at", "info"}
    rt:wj:{worker}                 set: ids of the active jobs claimed under that worker id
                                   (a heartbeat reads its own, not the queue's active set);
                                   a job leaves it when its lease ends, so it empties
                                   once a dead worker's jobs are reaped
    rt:idempotency                 hash: idempotency key -> id of the job that last took it
                                   (kept at its final state for the key window; removed
                                   when that job's record is purged)
    rt:kv:expiry                   zset: Huey result-store fields put with a ttl, scored by
                                   expiry (fallback for servers without hash-field TTL)
    rt:leader                      string: id of the leading daemon, expiring (PX) unless renewed
    rt:events                      stream: lifecycle and control events, capped at about
                                   base.events.EVENTS_CAP entries (XADD MAXLEN ~)
    rt:alert:{id}                  hash: one alert (base.alerts.ALERT_FIELDS; absent field = None)
    rt:alerts:seq                  counter: the last alert id handed out
    rt:alerts:open                 hash: "{rule}|{queue}" -> id of its open alert (at most one)
    rt:alerts:resolved             zset: resolved alert ids, scored by resolve time (pruning)
    rt:alerts:evaluated            string: when the rules were last evaluated (unix time)
    rt:q:{queue}:jobs              zset: the queue's job ids, scored by push sequence number
    rt:q:{queue}:waiting           zset: claimable ids, score -priority * 1e13 + seq (exact
                                   while |priority| < 900 and seq < 1e13)
    rt:q:{queue}:delayed           zset: delayed and retrying ids, scored by eta
    rt:q:{queue}:active            zset: claimed ids, scored by lease deadline
    rt:q:{queue}:failed            zset: dead-letter ids, scored by finish time
    rt:q:{queue}:completed         zset: completed ids, scored by finish time
    rt:q:{queue}:canceled          zset: canceled ids, scored by finish time (purge's index)
    rt:q:{queue}:completed:total   counter: jobs ever completed on the queue
    rt:q:{queue}:marker            list: wake-up markers for blocked claimers (capped)

Huey's own key-value store (put_data, put_if_empty, incr) keeps Huey's names, derived from
the storage name "runtime": see HUEY_RESULTS and HUEY_COUNTERS. Huey's queue and schedule
keys are named too, though the runtime never writes them (its enqueue/dequeue refuse).
"""

from __future__ import annotations

from runtime.backends.base.events import EVENTS_CAP

PREFIX = "rt:"
JOB_PREFIX = PREFIX + "job:"
QUEUE_PREFIX = PREFIX + "q:"

SEQ = PREFIX + "seq"
ALL_JOBS = PREFIX + "jobs"
QUEUES = PREFIX + "queues"
PAUSED = PREFIX + "paused"
WORKERS = PREFIX + "workers"
WORKER_JOBS_PREFIX = PREFIX + "wj:"
IDEMPOTENCY = PREFIX + "idempotency"
KV_EXPIRY = PREFIX + "kv:expiry"
LEADER = PREFIX + "leader"
EVENTS = PREFIX + "events"
ALERT_PREFIX = PREFIX + "alert:"
ALERTS_SEQ = PREFIX + "alerts:seq"
ALERTS_OPEN = PREFIX + "alerts:open"
ALERTS_RESOLVED = PREFIX + "alerts:resolved"
ALERTS_EVALUATED = PREFIX + "alerts:evaluated"

# Per-queue key suffixes: rt:q:{queue}:{suffix}.
JOBS = "jobs"
WAITING = "waiting"
DELAYED = "delayed"
ACTIVE = "active"
FAILED = "failed"
COMPLETED = "completed"
CANCELED = "canceled"
COMPLETED_TOTAL = "completed:total"
MARKER = "marker"
QUEUE_SUFFIXES = (
    JOBS,
    WAITING,
    DELAYED,
    ACTIVE,
    FAILED,
    COMPLETED,
    CANCELED,
    COMPLETED_TOTAL,
    MARKER,
)

# A marker list longer than this wakes no more claimers than it would at this length.
MARKER_CAP = 64

# The hashes of Huey's key-value store (kv.py), named as Huey's RedisStorage names them
# after its storage name.
STORAGE_NAME = "runtime"
HUEY_RESULTS = f"huey.results.{STORAGE_NAME}"
HUEY_COUNTERS = f"huey.counters.{STORAGE_NAME}"
HUEY_QUEUE = f"huey.redis.{STORAGE_NAME}"
HUEY_SCHEDULE = f"huey.schedule.{STORAGE_NAME}"


def job(job_id: str) -> str:
    """The hash holding one job record."""
    return JOB_PREFIX + job_id


def queue(name: str, suffix: str) -> str:
    """A per-queue key, e.g. `queue("default", WAITING)` -> `rt:q:default:waiting`."""
    if suffix not in QUEUE_SUFFIXES:
        raise ValueError(f"unknown per-queue key suffix '{suffix}'")
    return f"{QUEUE_PREFIX}{name}:{suffix}"


def waiting(name: str) -> str:
    return queue(name, WAITING)


def delayed(name: str) -> str:
    return queue(name, DELAYED)


def active(name: str) -> str:
    return queue(name, ACTIVE)


def failed(name: str) -> str:
    return queue(name, FAILED)


def completed(name: str) -> str:
    return queue(name, COMPLETED)


def canceled(name: str) -> str:
    return queue(name, CANCELED)


def completed_total(name: str) -> str:
    return queue(name, COMPLETED_TOTAL)


def marker(name: str) -> str:
    return queue(name, MARKER)


def queue_jobs(name: str) -> str:
    return queue(name, JOBS)


def worker_jobs(worker_id: str) -> str:
    """The set of the active jobs claimed under one worker id."""
    return WORKER_JOBS_PREFIX + worker_id


def alert(alert_id: int) -> str:
    """The hash holding one alert."""
    return f"{ALERT_PREFIX}{alert_id}"


def lua_prelude() -> str:
    """Lua definitions of the same names, prepended to every script.

    Scripts derive a job's queue keys from its record, so they build key names at run
    time; that is fine on a single Redis server (the runtime does not support Cluster).
    """
    constants = {
        "SEQ_KEY": SEQ,
        "ALL_JOBS_KEY": ALL_JOBS,
        "QUEUES_KEY": QUEUES,
        "IDEMPOTENCY_KEY": IDEMPOTENCY,
        "WORKERS_KEY": WORKERS,
        "WORKER_JOBS_PREFIX": WORKER_JOBS_PREFIX,
        "PAUSED_KEY": PAUSED,
        "LEADER_KEY": LEADER,
        "ALERT_PREFIX": ALERT_PREFIX,
        "ALERTS_OPEN_KEY": ALERTS_OPEN,
        "ALERTS_EVALUATED_KEY": ALERTS_EVALUATED,
        "KV_EXPIRY_KEY": KV_EXPIRY,
        "EVENTS_KEY": EVENTS,
        "JOB_PREFIX": JOB_PREFIX,
        "QUEUE_PREFIX": QUEUE_PREFIX,
    }
    suffixes = {s.upper().replace(":", "_"): s for s in QUEUE_SUFFIXES}
    lines = [f'local {name} = "{value}"' for name, value in constants.items()]
    lines.append(f"local MARKER_CAP = {MARKER_CAP}")
    lines.append(f"local EVENTS_CAP = {EVENTS_CAP}")
    lines.append("local Q = {" + ", ".join(f'{k} = "{v}"' for k, v in suffixes.items()) + "}")
    lines.append("local function job_key(id) return JOB_PREFIX .. id end")
    lines.append(
        "local function qkey(queue, suffix) return QUEUE_PREFIX .. queue .. ':' .. suffix end"
    )
    return "\n".join(lines) + "\n"


# -- metrics (metrics.py) --------------------------------------------------------------------
#   rt:mm:{queue}:{job}:{hour}     string: the hour's minutes 0-59 as one packed bucket
#                                  sequence (base.metrics.pack_buckets); expires 24 h after the hour
#   rt:md:{queue}:{job}            hash: day since the epoch -> packed counts; fields older
#                                  than 30 days are dropped when a new day starts
#   rt:mt:{queue}                  hash: "{job}|{outcome}" -> lifetime count (never shrinks)
METRIC_MINUTES_PREFIX = PREFIX + "mm:"
METRIC_DAYS_PREFIX = PREFIX + "md:"
METRIC_TOTALS_PREFIX = PREFIX + "mt:"


def metric_minutes(queue: str, job: str, hour: int) -> str:
    """One job's per-minute buckets of one hour (hours since the epoch)."""
    return f"{METRIC_MINUTES_PREFIX}{queue}:{job}:{hour}"


def metric_days(queue: str, job: str) -> str:
    return f"{METRIC_DAYS_PREFIX}{queue}:{job}"


def metric_totals(queue: str) -> str:
    return f"{METRIC_TOTALS_PREFIX}{queue}"
