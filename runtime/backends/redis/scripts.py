"""The Redis backend's Lua scripts (lua/, one file per operation): their source with the
key names and shared helpers prepended, and one script run many times in one round trip.

Every state change of a job is one script, so a job is never in two places or in none.
`lua/lib.lua` holds what several scripts share (pushing a job, emitting an event, moving
a job back to waiting); keys.lua_prelude() defines the key names, generated from keys.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from runtime.backends.redis import keys

LUA = resources.files(__package__ or "runtime.backends.redis").joinpath("lua")


def lua_source(name: str) -> str:
    """The text of `lua/{name}.lua` as it is on disk."""
    return LUA.joinpath(f"{name}.lua").read_text(encoding="utf-8")


def load_script(name: str) -> str:
    """Script source: key names, the shared helpers, then the script itself."""
    return keys.lua_prelude() + lua_source("lib") + lua_source(name)


def evalsha_many(conn: redis.Redis, script: Script, calls: Sequence[list[Any]]) -> list[Any]:
    """Run `script` once per args list in one pipelined round trip, in order.

    Not via `script(client=pipe)`: redis-py then sends SCRIPT EXISTS first on every
    execute, a second round trip. A NOSCRIPT reply (fresh or flushed server) means
    that call did not run: load the script and re-run just those calls.
    """
    results = _pipelined(conn, script.sha, calls)
    missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
    if missing:
        script.sha = conn.script_load(script.script)
        rerun = _pipelined(conn, script.sha, [calls[i] for i in missing])
        for i, result in zip(missing, rerun, strict=True):
            results[i] = result
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def _pipelined(conn: redis.Redis, sha: str, calls: Sequence[list[Any]]) -> list[Any]:
    with conn.pipeline(transaction=False) as pipe:
        for args in calls:
            pipe.evalsha(sha, 0, *args)
        return list(pipe.execute(raise_on_error=False))
