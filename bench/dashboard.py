"""The dashboard at scale: home refresh, a tick's widget update, first paint, payload search,
a bulk retry with key presses answered meanwhile, and RSS over minutes of live refresh.

    python bench/dashboard.py [--backend both] [--jobs 1000000] [--failed 100000]
                              [--queues 50] [--runs 5] [--minutes 10]

For each backend (Redis on a redis-server started here on a free loopback port, SQLite on
a temp file) seeds `--jobs` waiting and `--failed` failed jobs of `bench.noop` spread over
`--queues` queues (bench/seeding.py: enqueue_many; claimed and dead-lettered by the
reaper), each payload `{"user": "u<n % 1000>", "n": n}`, then measures:
a. backend time per home refresh: `control.dashboard_home` against `control.status` (what
   `runtime status` reads), interleaved in the same run; ms and ratio;
b. a tick's widget update: in a headless `DashboardApp.run_test(size=(120, 40))`, the
   app's apply of a fetched home (`_home_read`: the Queues screen's `home_changed`, header,
   totals, table), with every row's counts changed each tick, against the same home
   unchanged (the same run's baseline); the apply itself, and until the app and every
   widget of the screen handled what it queued (a profile shows the DataTable's column
   widths measured again and its repaint inside that wait);
c. first paint: from starting a dashboard process (headless) until the Queues table shows
   its rows, on a backend with 1 job and on the seeded one, interleaved; ratio;
d. a payload search (`payload.user:u7`) through every queue's waiting jobs with
   `control.search_jobs` step by step as the Jobs screen does; jobs/s, matches = expected;
e. a bulk retry of every failed job as the Jobs screen runs it (tui/screens/bulk.py's
   BulkRun over `DashboardData.act_on_matching`) while a `down` key is posted to the app
   every 20 ms: latency until the screen's action for it ran, p50 / p99 / max, and the
   retry's jobs/s;
f. the resident memory of a dashboard process (headless, refreshing every second) sampled
   every 10 s over `--minutes`: start, end, max, slope.
a to c are medians of `--runs`; d, e, f run once per backend (e changes the data).
Targets (printed, never asserted): home under 5 ms on Redis with 1M jobs; a tick under
16 ms; first paint under 1.5 s and within 20% of the 1-job one; RSS under 120 MB and flat;
every key press answered within 100 ms during the bulk retry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seeding import config_for, dead_letter, enqueue, runtime_for  # noqa: E402
from runtime import control  # noqa: E402
from runtime.config import Config  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

USERS = 1000  # payload user names u0 .. u999
SEARCHED_USER = 7
JOB = "bench.user"  # bench/noop_jobs.py: a no-op taking user and n
HOME_MS_TARGET = 5.0
TICK_MS_TARGET = 16.0
PAINT_S_TARGET = 1.5
PAINT_RATIO_TARGET = 1.2
RSS_MB_TARGET = 120.0
PRESS_MS_TARGET = 100.0
CALLS = 20  # home / status calls per run
TICKS = 100  # widget updates timed
SAMPLE_S = 10.0
PRESS_GAP_S = 0.02
SIZE = (120, 40)
MB = 1024 * 1024

Figures = dict[str, Any]


def user_payload(n: int) -> dict[str, Any]:
    return {"user": f"u{n % USERS}", "n": n}


def split(total: int, parts: int) -> list[int]:
    """`total` spread over `parts` as evenly as whole numbers go."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def queue_names(queues: int) -> list[str]:
    return [f"q{n:02d}" for n in range(queues)]


def expected_matches(args: argparse.Namespace) -> int:
    """Waiting jobs whose payload user is u7: the n-th job of each queue is user n % USERS."""
    return sum(len(range(SEARCHED_USER, count, USERS)) for count in split(args.jobs, args.queues))


# -- seeding (timed, not a measure) -----------------------------------------------------------
def seed(url: str, args: argparse.Namespace) -> float:
    started = time.perf_counter()
    rt = runtime_for(url)
    names = queue_names(args.queues)
    dead_letter(
        rt, dict(zip(names, split(args.failed, args.queues), strict=True)), user_payload, JOB
    )
    for name, count in zip(names, split(args.jobs, args.queues), strict=True):
        enqueue(rt, name, count, user_payload, JOB)
    rt.close()
    return time.perf_counter() - started


def seed_one(url: str) -> None:
    rt = runtime_for(url)
    enqueue(rt, "q00", 1, user_payload, JOB)
    rt.close()


# -- a. backend time per home refresh --------------------------------------------------------
def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def home_run(config: Config) -> Figures:
    """One run: CALLS of each, interleaved so both share the moment's noise."""
    backend = control.connect(config)
    try:
        home = lambda: control.dashboard_home(backend, config)  # noqa: E731
        status = lambda: control.status(backend, config)  # noqa: E731
        home(), status()  # warm: scripts loaded, connection open
        pairs = [(timed(home), timed(status)) for _ in range(CALLS)]
    finally:
        control.disconnect(backend)
    home_ms = statistics.median(h for h, _ in pairs)
    status_ms = statistics.median(s for _, s in pairs)
    return {"home_ms": home_ms, "status_ms": status_ms, "home_ratio": home_ms / status_ms}


# -- the app, headless ------------------------------------------------------------------------
def dashboard(config: Config, refresh: float) -> Any:
    from tui.app import DashboardApp
    from tui.data import DashboardData

    return DashboardApp(DashboardData(config), refresh_seconds=refresh)


async def rows_shown(app: Any, pilot: Any) -> None:
    """Wait until the Queues table shows rows."""
    from textual.css.query import NoMatches

    from tui.widgets.keyed_table import KeyedTable

    while True:
        try:
            if app.screen.query_one(KeyedTable).row_count:
                return
        except NoMatches:
            pass
        await pilot.pause(0.005)


# -- b. a tick's widget update ----------------------------------------------------------------
def changed(home: dict[str, Any], tick: int) -> dict[str, Any]:
    """`home` with every queue's counts moved, as a busy tick would move them."""
    for row in home["queues"]:
        row["waiting"] += tick * 1000
        row["active"] = tick % 10
    home["totals"]["processed_today"] += tick
    return home


async def tick_times(config: Config) -> Figures:
    """TICKS applies with every row changed, then TICKS of the same home unchanged (an idle
    system's tick: the baseline of the same run)."""
    app = dashboard(config, refresh=3600.0)  # no poll of its own: the bench feeds it
    figures: Figures = {}
    async with app.run_test(size=SIZE) as pilot:
        await rows_shown(app, pilot)
        for label, move in (("tick", True), ("tick_unchanged", False)):
            applied, handled = [], []
            for tick in range(1, TICKS + 1):
                home = changed(app.data.home(), tick if move else TICKS)
                started = time.perf_counter()
                app._home_read(home)  # what the app does with each tick's home
                applied.append(time.perf_counter() - started)
                await pilot._wait_for_screen()  # the messages the apply queued, handled
                handled.append(time.perf_counter() - started)
            figures[f"{label}_ms"] = ms_median(applied)
            figures[f"{label}_handled_ms"] = ms_median(handled)
    return figures


def ms_median(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


# -- e. bulk retry with key presses -----------------------------------------------------------
def timed_bulk_run(*args: Any) -> Any:
    """The dashboard's bulk progress screen, with `down` bound to note when it was handled
    (the screen binds nothing to it: the key goes through the app's dispatch as any would)."""
    from textual.binding import Binding

    from tui.screens.bulk import BulkRun

    class TimedBulkRun(BulkRun):
        BINDINGS: ClassVar[list[Any]] = [Binding("down", "answered", show=False)]
        answered: list[float]

        def action_answered(self) -> None:
            self.answered.append(time.perf_counter())

    run = TimedBulkRun(*args)
    run.answered = []
    return run


async def bulk_with_keys(config: Config, failed: int) -> Figures:
    """The key is posted to the app as the driver (and Pilot.press) posts it; its latency
    runs until the screen's action ran. Pilot.press itself then waits for the process's
    CPU to go idle, which a bulk run in a thread never lets it, so it is not the clock."""
    from textual import events

    from tui.filters import parse_filter

    app = dashboard(config, refresh=1.0)
    where = (None, "failed", parse_filter("").query(), None)  # every failed job, every queue
    presses: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await rows_shown(app, pilot)
        run = timed_bulk_run("retry every failed job", failed, lambda stop: steps(app, where, stop))
        started = time.perf_counter()
        await app.push_screen(run)
        while not run.finished:
            pressed = time.perf_counter()
            app.post_message(events.Key("down", None))
            while len(run.answered) <= len(presses):
                await asyncio.sleep(0.0005)
            presses.append(run.answered[-1] - pressed)
            await asyncio.sleep(PRESS_GAP_S)
        seconds = time.perf_counter() - started
    assert run.last.done == failed, run.last
    return {"bulk_rate": failed / seconds, "bulk_s": seconds, **press_figures(presses)}


def steps(app: Any, where: Any, stop: Any) -> Iterator[Any]:
    return app.data.act_on_matching("retry", where, stop)


def press_figures(presses: list[float]) -> Figures:
    ordered = sorted(presses)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "presses": len(ordered),
        "press_p50_ms": ms_median(ordered),
        "press_p99_ms": p99 * 1000,
        "press_max_ms": ordered[-1] * 1000,
    }


# -- c and f: a dashboard process of its own --------------------------------------------------
def child(url: str, seconds: float, started: float) -> None:
    """Run a headless dashboard; print, as JSON lines, the seconds from `started` (the
    parent's clock before it started this process) to the first rows, then every SAMPLE_S
    this process's RSS until `seconds` have passed."""
    asyncio.run(live(config_for(url), seconds, started))


async def live(config: Config, seconds: float, started: float) -> None:
    import psutil

    app = dashboard(config, refresh=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await rows_shown(app, pilot)
        painted = time.time()
        emit({"first_paint": painted - started})
        process = psutil.Process()
        while True:
            elapsed = time.time() - painted
            emit({"t": elapsed, "rss": process.memory_info().rss})
            if elapsed + SAMPLE_S > seconds:
                return
            await pilot.pause(SAMPLE_S)


def emit(figures: Figures) -> None:
    print(json.dumps(figures), flush=True)


def dashboard_process(url: str, seconds: float) -> list[Figures]:
    started = time.time()
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, str(seconds), str(started)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def paint_run(url: str, one_job_url: str) -> Figures:
    one = dashboard_process(one_job_url, 0)[0]["first_paint"]
    seeded = dashboard_process(url, 0)[0]["first_paint"]
    return {"paint_1_s": one, "paint_s": seeded, "paint_ratio": seeded / one}


def rss(url: str, minutes: float) -> Figures:
    samples = dashboard_process(url, minutes * 60)[1:]
    times = [s["t"] / 60 for s in samples]
    sizes = [s["rss"] / MB for s in samples]
    slope = statistics.linear_regression(times, sizes).slope if len(samples) > 1 else 0.0
    return {
        "rss_start_mb": sizes[0],
        "rss_end_mb": sizes[-1],
        "rss_max_mb": max(sizes),
        "rss_slope_mb_min": slope,
        "rss_minutes": times[-1],
        "rss_samples": len(sizes),
        "rss_each_minute": [round(size) for size in sizes[:: max(1, round(60 / SAMPLE_S))]],
    }


# -- d. payload search -------------------------------------------------------------------------
def search(config: Config) -> Figures:
    """`payload.user:u7` through every queue's waiting jobs, a step at a time."""
    from tui.filters import parse_filter

    query = parse_filter(f"payload.user:u{SEARCHED_USER}").query()
    backend = control.connect(config)
    matches = searched = steps_taken = 0
    cursor = None
    started = time.perf_counter()
    try:
        while True:
            page = control.search_jobs(backend, None, "waiting", query, cursor=cursor)
            matches += len(page["jobs"])
            searched += page["searched"]
            steps_taken += 1
            if (cursor := page["next_cursor"]) is None:
                break
    finally:
        control.disconnect(backend)
    seconds = time.perf_counter() - started
    return {
        "search_s": seconds,
        "search_rate": searched / seconds,
        "searched": searched,
        "matches": matches,
        "search_steps": steps_taken,
    }


# -- one backend ------------------------------------------------------------------------------
def bench(name: str, url: str, one_job_url: str, args: argparse.Namespace) -> Figures:
    config = config_for(url)
    seed_one(one_job_url)
    figures: Figures = {"seed_s": seed(url, args)}
    say(name, "seeded", figures)
    runs = [{**home_run(config), **paint_run(url, one_job_url)} for _ in range(args.runs)]
    for number, run in enumerate(runs, 1):
        say(name, f"run {number}", run)
    figures.update(medians(runs))
    figures["per_run"] = runs
    for part in (
        lambda: asyncio.run(tick_times(config)),
        lambda: search(config),
        lambda: asyncio.run(bulk_with_keys(config, args.failed)),
        lambda: rss(url, args.minutes),
    ):
        figures.update(part())
        say(name, "so far", figures)
    return figures


def medians(runs: list[Figures]) -> Figures:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def say(name: str, what: str, figures: Figures) -> None:
    shown = {k: v for k, v in figures.items() if not isinstance(v, list)}
    print(f"{name} {what}: " + ", ".join(f"{k}={v:,.3f}" for k, v in shown.items()), flush=True)


# -- report -------------------------------------------------------------------------------------
def verdict(ok: bool, target: str) -> str:
    return "ok" if ok else f"MISSED {target}"


def report(name: str, f: Figures, args: argparse.Namespace) -> None:
    ratios = ", ".join(f"{run['home_ratio']:.1f}" for run in f["per_run"])
    paint_ratios = ", ".join(f"{run['paint_ratio']:.2f}" for run in f["per_run"])
    expected = expected_matches(args)
    flat = abs(f["rss_slope_mb_min"]) < 0.5
    lines = [
        f"\n{name}: {args.jobs:,} waiting + {args.failed:,} failed over {args.queues} queues"
        f" (seeded in {f['seed_s']:.0f} s); medians of {args.runs} runs",
        f"  a. home refresh {f['home_ms']:.2f} ms, status {f['status_ms']:.2f} ms:"
        f" {f['home_ratio']:.1f}x status (per run {ratios})"
        f"  {verdict(f['home_ms'] < HOME_MS_TARGET, '5 ms')}",
        f"  b. tick, every row changed: apply {f['tick_ms']:.2f} ms, until what it queued was"
        f" handled {f['tick_handled_ms']:.2f} ms (median of {TICKS})"
        f"  {verdict(f['tick_handled_ms'] < TICK_MS_TARGET, '16 ms')}",
        f"     unchanged (baseline): apply {f['tick_unchanged_ms']:.2f} ms, handled"
        f" {f['tick_unchanged_handled_ms']:.2f} ms",
        f"  c. first paint {f['paint_s']:.2f} s, with 1 job {f['paint_1_s']:.2f} s:"
        f" {f['paint_ratio']:.2f}x (per run {paint_ratios})"
        f"  {verdict(f['paint_s'] < PAINT_S_TARGET, '1.5 s')},"
        f" {verdict(f['paint_ratio'] < PAINT_RATIO_TARGET, 'within 20%')}",
        f"  d. search payload.user:u{SEARCHED_USER}: {f['searched']:,} jobs in"
        f" {f['search_s']:.1f} s ({f['search_rate']:,.0f} jobs/s, {f['search_steps']} steps),"
        f" {f['matches']:,} matches, expected {expected:,}"
        f"  {'ok' if f['matches'] == expected else 'WRONG COUNT'}",
        f"  e. bulk retry of {args.failed:,}: {f['bulk_s']:.1f} s ({f['bulk_rate']:,.0f} jobs/s);"
        f" {f['presses']} presses p50 {f['press_p50_ms']:.1f} ms, p99 {f['press_p99_ms']:.1f} ms,"
        f" max {f['press_max_ms']:.1f} ms"
        f"  {verdict(f['press_max_ms'] < PRESS_MS_TARGET, '100 ms')}",
        f"  f. RSS over {f['rss_minutes']:.1f} min ({f['rss_samples']} samples): start"
        f" {f['rss_start_mb']:.1f} MB, end {f['rss_end_mb']:.1f} MB, max {f['rss_max_mb']:.1f} MB,"
        f" slope {f['rss_slope_mb_min']:+.2f} MB/min"
        f"  {verdict(f['rss_max_mb'] < RSS_MB_TARGET, '120 MB')}, {'flat' if flat else 'NOT FLAT'}",
        f"     RSS each minute, MB: {', '.join(map(str, f['rss_each_minute']))}",
    ]
    print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["redis", "sqlite", "both"], default="both")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--failed", type=int, default=100_000)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--child", nargs=3, metavar=("URL", "S", "T0"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]), float(args.child[2]))
        return
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("redis", "both"):
            server = RedisServer(Path(tmp) / "redis").start()
            try:
                url = server.url
                report("Redis", bench("Redis", url, url.removesuffix("/0") + "/1", args), args)
            finally:
                server.stop()
        if args.backend in ("sqlite", "both"):
            url, one = (f"sqlite:///{Path(tmp) / name}" for name in ("runtime.db", "one.db"))
            report("SQLite", bench("SQLite", url, one, args), args)


if __name__ == "__main__":
    main()
