"""CLI cold start: wall time of `runtime status` and `runtime job list`, each a fresh
process, against the floors a Python command cannot go below.

    python bench/cli_start.py [--runs 15] [--jobs 200]

Baselines measured in the same run, interleaved with the commands (each round runs every
command once, in turn, so machine noise falls on all of them alike): `python -c pass`
(the interpreter and site, the SQLite floor) and `python -c "import redis"` (the client
library's own import, the Redis floor). The commands run on the embedded SQLite backend
and on a redis-server this benchmark starts on a free loopback port, each holding
`--jobs` no-op jobs, through the `runtime` console script beside this interpreter (else
the one on PATH, else `python -m runtime`), with bytecode written and cached as for any
installed package (the first, unmeasured round writes it). Prints the median of `--runs`
rounds and each command's ratio to its floor (targets: SQLite status < 4x `pass`, Redis
status < 1.5x `import redis`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime.config import Config, PluginsSection  # noqa: E402
from runtime.producer import Runtime  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

CONFIG = """[runtime]
backend = "{backend}"

[plugins]
autoload = false
modules = ["bench.noop_jobs"]
"""


def runtime_command() -> list[str]:
    """The console script a user runs, from this interpreter's environment."""
    script = Path(sys.executable).with_name("runtime")
    if script.is_file():
        return [str(script)]
    found = shutil.which("runtime")
    return [found] if found else [sys.executable, "-m", "runtime"]


def fill(backend: str, jobs: int) -> None:
    config = Config(plugins=PluginsSection(modules=["bench.noop_jobs"], autoload=False))
    config.runtime.backend = backend
    rt = Runtime(config=config)
    rt.enqueue_many("bench.noop", [{} for _ in range(jobs)])
    rt.backend.close()


def write_config(folder: Path, backend: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(CONFIG.format(backend=backend))
    return path


def wall_ms(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # bench.noop_jobs, from any folder
    # Bytecode as an installed package has it: pip compiles it, an editable install writes
    # it on first import. Without it every run would compile the runtime's modules anew.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    # `runtime status` exits 2 here: jobs wait and no worker runs (the critical no_worker
    # alert), which is what a probe sees on a stopped daemon; 3 would be a failure.
    if done.returncode not in (0, 1, 2):
        raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cli-start-"))
    server = RedisServer(workdir / "redis").start()
    try:
        run(args, workdir, server.url)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path, redis_url: str) -> None:
    sqlite_url = f"sqlite:///{workdir / 'sqlite' / 'runtime.db'}"
    folders = {"sqlite": workdir / "sqlite", "redis": workdir / "redis-config"}
    for name, url in (("sqlite", sqlite_url), ("redis", redis_url)):
        write_config(folders[name], url)
        fill(url, args.jobs)
    rt = runtime_command()
    commands = {
        "python -c pass": ([sys.executable, "-c", "pass"], workdir),
        'python -c "import redis"': ([sys.executable, "-c", "import redis"], workdir),
        "SQLite: runtime status": ([*rt, "status"], folders["sqlite"]),
        "SQLite: runtime job list": ([*rt, "job", "list"], folders["sqlite"]),
        "Redis: runtime status": ([*rt, "status"], folders["redis"]),
        "Redis: runtime job list": ([*rt, "job", "list"], folders["redis"]),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command, cwd in commands.values():  # warm the page cache and .pyc files once
        wall_ms(command, cwd)
    for _ in range(args.runs):
        for name, (command, cwd) in commands.items():
            times[name].append(wall_ms(command, cwd))
    report({name: statistics.median(values) for name, values in times.items()}, args, rt)


def report(medians: dict[str, float], args: argparse.Namespace, rt: list[str]) -> None:
    floors = {"SQLite": medians["python -c pass"], "Redis": medians['python -c "import redis"']}
    command = " ".join([Path(rt[0]).name, *rt[1:]])
    print(
        f"median of {args.runs} interleaved rounds; {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}; `{command}`; {args.jobs} jobs per backend"
    )
    for name, ms in medians.items():
        backend = name.partition(":")[0]
        if backend in floors:
            floor = "python -c pass" if backend == "SQLite" else 'python -c "import redis"'
            ratio = f"{ms / floors[backend]:.2f}x {floor}"
        else:
            ratio = f"{ms / medians['python -c pass']:.2f}x python -c pass"
        print(f"  {name:<28}{ms:7.0f} ms   {ratio}")


if __name__ == "__main__":
    main()
