"""Queue and job names, as every door takes them: the producer, the CLI, the config and
the job decorator.

A name is 1 to 100 letters, digits, '.', '_' and '-', starting with a letter or digit
(job names are usually dotted: `diagnostics.echo`). Backend keys join names with ':'
(`rt:q:{queue}:waiting`, `rt:mm:{queue}:{job}:{hour}`), which no name can hold, so two
different (queue, job) pairs never build the same key; the cap keeps keys and log lines
short.
"""

from __future__ import annotations

import re
from typing import Any

from runtime.errors import BadInput

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
RULE = "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"


def name_problem(kind: str, name: Any) -> str | None:
    """None for a valid name, else the sentence (without its full stop) saying why not."""
    if isinstance(name, str) and NAME.fullmatch(name):
        return None
    shown = repr(name) if isinstance(name, str) else f"of type {type(name).__name__}"
    return f"{kind} name {shown} is invalid: use {RULE}"


def check_name(kind: str, name: Any) -> str:
    """`name` if valid, else BadInput naming it (`kind`: "queue" or "job")."""
    problem = name_problem(kind, name)
    if problem is not None:
        raise BadInput(problem + ".")
    return str(name)
