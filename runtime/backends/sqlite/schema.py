"""The `jobs` table and the SQL of the SQLite backend's hot paths (storage.py runs them).

Every job lives in one `jobs` row that holds both the record (what `runtime job show`
prints) and the message (`data`), so a state change is one UPDATE inside one transaction:
a job can never be in neither place, which is the at-least-once promise of DESIGN.md.
The other concerns keep their tables in their own modules (events.py, alerts.py, ...).
"""

from __future__ import annotations

from runtime.backends.base.storage import RECORD_KEYS

# `seq` is the rowid: the order of pushes, used for FIFO within a priority and for listing.
# A plain INTEGER PRIMARY KEY is always max+1, so it grows past every row that still exists,
# which is all the ordering needs (AUTOINCREMENT would only add a bookkeeping table).
# Partial indexes keep the hot paths (claim, promote, reap) small: each holds only the rows
# in the states its query looks at. Every index implicitly ends with the rowid, so
# (queue, state), (state) and (queue) also return rows in push order for list_jobs.
SCHEMA = [
    """create table if not exists jobs (
        seq integer primary key,
        id text not null unique,
        job text not null,
        queue text not null,
        state text not null,
        priority integer not null default 0,
        data blob not null,
        -- Unused (''): the payload is read from `data`. Kept so that files written before
        -- the payload was stored once work unchanged (no table rebuild).
        payload text not null,
        key text,
        attempts integer not null default 0,
        progress text,
        result text,
        error text,
        enqueued_at real not null,
        started_at real,
        finished_at real,
        eta real,
        lease_deadline real,
        token text,
        worker text,
        stalls integer not null default 0)""",
    "create index if not exists jobs_queue_state on jobs (queue, state)",
    "create index if not exists jobs_state on jobs (state)",
    "create index if not exists jobs_queue on jobs (queue)",
    """create index if not exists jobs_claim on jobs (queue, priority desc, seq)
        where state = 'waiting'""",
    """create index if not exists jobs_due on jobs (queue, eta)
        where state in ('delayed', 'retrying')""",
    """create index if not exists jobs_lease on jobs (queue, lease_deadline)
        where state = 'active'""",
    "create index if not exists jobs_key on jobs (key) where key is not null",
    # Finished jobs by finish time, for purge: only final states set finished_at, so the
    # hot paths never touch this index until a job's last transition.
    """create index if not exists jobs_finished on jobs (queue, state, finished_at)
        where finished_at is not null""",
    # A row per queue ever pushed to: known_queues, and the completed total (jobs rows may
    # be cleaned away, the total must not shrink).
    """create table if not exists queues (
        name text primary key, completed integer not null default 0)""",
    "create table if not exists paused_queues (name text primary key)",
    """create table if not exists workers (
        id text primary key, info text not null, expires_at real not null)""",
    # Jobs per (queue, state), kept by triggers in the transaction of every insert, state
    # change and delete, so that `queue_counts` (and `runtime status`) is O(1) per queue
    # instead of counting a million-row index; no Python path can forget to update it.
    """create table if not exists job_counts (
        queue text not null, state text not null, n integer not null,
        primary key (queue, state)) without rowid""",
    """create trigger if not exists job_counts_insert after insert on jobs begin
        insert into job_counts values (new.queue, new.state, 1)
            on conflict (queue, state) do update set n = n + 1;
    end""",
    """create trigger if not exists job_counts_delete after delete on jobs begin
        update job_counts set n = n - 1 where queue = old.queue and state = old.state;
    end""",
    """create trigger if not exists job_counts_state after update of state on jobs
        when old.state != new.state begin
        update job_counts set n = n - 1 where queue = old.queue and state = old.state;
        insert into job_counts values (new.queue, new.state, 1)
            on conflict (queue, state) do update set n = n + 1;
    end""",
]

# Columns added after the first release: `create table if not exists` leaves an older
# database's table as it was, so SqliteBackend.migrate adds these when they are missing.
ADDED_COLUMNS = {
    "stalls": "stalls integer not null default 0",
    # cancellation.py: the token of the claim an operator asked to cancel.
    "cancel_requested": "cancel_requested text",
}

# The payload is stored once, in the message (`data`): read from it, not from the `payload`
# column, which only files written before that still fill.
RECORD_COLUMNS = ", ".join("data" if name == "payload" else name for name in RECORD_KEYS)
JSON_FIELDS = ("progress", "result", "error")
FINAL_LIST = "('completed', 'failed', 'canceled')"
FINAL = f"state in {FINAL_LIST}"
NOT_FINAL = f"state not in {FINAL_LIST}"

# The queries that must stay index range scans; tests/test_backend_contract.py checks
# their query plans, so keep them as constants.
SQL_HAS_WAITING = "select 1 from jobs where queue = ? and state = 'waiting' limit 1"
SQL_CLAIM = """
    update jobs set state = 'active', token = ?, attempts = attempts + 1,
        started_at = ?, lease_deadline = ?, worker = ?
    where seq = (select seq from jobs where queue = ? and state = 'waiting'
                 order by priority desc, seq limit 1)
    returning id, data, attempts, max(enqueued_at, coalesce(eta, 0))"""
# promote and reap take at most a batch (the last parameter) per transaction, soonest due
# first, so that one call never holds the write lock for long (storage.py loops).
SQL_PROMOTE = """
    update jobs set state = 'waiting'
    where seq in (select seq from jobs
                  where queue = ? and state in ('delayed', 'retrying') and eta <= ?
                  order by eta limit ?)"""
# reap: a batch of expired leases with their stall counts; those at their last stall fail
# (SQL_STALL), the others go back to waiting (SQL_REAP).
SQL_EXPIRED = """
    select id, stalls from jobs
    where queue = ? and state = 'active' and lease_deadline < ?
    order by lease_deadline, seq limit ?"""
SQL_REAP = """
    update jobs set state = 'waiting', token = null, lease_deadline = null, stalls = stalls + 1
    where id = ?"""
SQL_STALL = """
    update jobs set state = 'failed', finished_at = ?, error = ?, stalls = stalls + 1,
        token = null, lease_deadline = null
    where id = ?"""
# By id only: with a state condition too, the planner walks the whole state index instead.
SQL_KEYS = "select id, key, state from jobs where id in ({})"
# The new message is the one given (:data), else the stored one with :head for its own
# when it is compose's for the job (it starts with :start, the head up to its id; its head
# ends at its first ',"payload":', X'2c2270...' here, see messages.compose_head), else the
# stored one. Blobs throughout, so that positions are bytes.
SQL_REQUEUE = """
    update jobs set state = 'waiting', error = null, finished_at = null, stalls = 0,
        progress = null, token = null, lease_deadline = null, key = :key,
        data = coalesce(:data, case
            when :head is not null and substr(data, 1, length(:start)) = :start
                and instr(data, X'2c227061796c6f6164223a') > 0
            then cast(:head || substr(data, instr(data, X'2c227061796c6f6164223a') + 11) as blob)
            end, data)
    where id = :id"""
# list_jobs by state: each state's rows in STATE_ORDER, through the partial index of
# that state (delayed and retrying share one, as on Redis; the caller filters).
_DUE = """select id from jobs
    where queue = ? and state in ('delayed', 'retrying') order by eta, seq limit ? offset ?"""
_FINISHED = """select id from jobs
    where queue = ? and state = ? and finished_at is not null
    order by finished_at desc, seq desc limit ? offset ?"""
SQL_STATE_SLICES = {
    "waiting": """select id from jobs where queue = ? and state = 'waiting'
        order by priority desc, seq limit ? offset ?""",
    "delayed": _DUE,
    "retrying": _DUE,
    "active": """select id from jobs where queue = ? and state = 'active'
        order by lease_deadline, seq limit ? offset ?""",
    "completed": _FINISHED,
    "failed": _FINISHED,
    "canceled": _FINISHED,
}
# Bulk actions walk a final state oldest first, up to a finish time (jobs_finished index).
SQL_FINISHED_SLICE = """select id, job, priority from jobs
    where queue = ? and state = ? and finished_at is not null and finished_at <= ?
    order by finished_at, seq limit ? offset ?"""
# A database from before job_counts existed: count its jobs once (the triggers keep the
# counts from then on; a database whose jobs all went still has its zero rows).
SQL_SEED_COUNTS = """insert into job_counts select queue, state, count(*) from jobs
    where not exists (select 1 from job_counts) group by queue, state"""
SQL_COUNTS = """select queue, state, n from job_counts
    where state in ('waiting', 'delayed', 'retrying', 'active', 'failed') and queue in ({})"""
# purge: the newest finished row beyond the `keep` newest (the first one to delete).
SQL_KEEP_CUTOFF = """
    select finished_at, seq from jobs
    where queue = ? and state = ? and finished_at is not null
    order by finished_at desc, seq desc limit 1 offset ?"""
# purge: the oldest finished rows up to a (finished_at, seq) bound, inclusive, written
# so that `finished_at <= ?` is the index range and the rest only filters its edge.
SQL_PURGE = """
    delete from jobs where seq in (
        select seq from jobs
        where queue = ? and state = ? and finished_at is not null
            and finished_at <= ? and (finished_at < ? or seq <= ?)
        order by finished_at, seq limit ?)"""
SQL_PENDING_KEY = f"select id, state from jobs where key = ? and {NOT_FINAL} limit 1"
# The finished job with `key` that finished last: the key's holder when no pending job has
# it (a key has at most one pending job at a time, so the last to finish is the last that
# took it; not the highest seq: a requeued job keeps its old one). max() picks the row
# during the index lookup, where ORDER BY finished_at would sort.
SQL_FINISHED_KEY = f"select id, state, max(finished_at) from jobs where key = ? and {FINAL}"
SQL_INSERT = """
    insert into jobs (id, job, queue, state, priority, data, payload, key,
                      enqueued_at, eta, finished_at, error)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
SQL_REGISTER_QUEUE = "insert or ignore into queues (name) values (?)"
# forget_queue: whether a queue holds a job (index jobs_queue), how many (job_counts, O(1)),
# and what forgetting it deletes: its known-queue row (with its completed total), its
# zero counts and its pause flag.
SQL_QUEUE_HAS_JOBS = "select 1 from jobs where queue = ? limit 1"
SQL_QUEUE_JOBS = "select coalesce(sum(n), 0) from job_counts where queue = ?"
SQL_FORGET_QUEUE = (
    "delete from queues where name = ?",
    "delete from job_counts where queue = ?",
    "delete from paused_queues where name = ?",
)
# The next job to be claimed (jobs_claim index) and new dead letters (jobs_finished index).
SQL_WAITING_HEAD = """select enqueued_at, eta from jobs where queue = ? and state = 'waiting'
    order by priority desc, seq limit 1"""
SQL_DEAD_SINCE = """select count(*) from jobs
    where queue = ? and state = 'failed' and finished_at >= ?"""
# Fencing: an operation on a claimed job matches only the live claim's token.
FENCE = "where id = ? and token = ? and state = 'active'"
