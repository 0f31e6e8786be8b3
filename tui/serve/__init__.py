"""`runtime dashboard --serve`: the same app in a browser, through textual-serve, with our
own page template (tui/serve/templates): textual-serve's page loads its font from Google,
ours from textual-serve's own statics, so the page needs nothing from the internet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"


def server(command: str, host: str, port: int) -> Any:
    """A textual-serve Server running `command` (one dashboard process per browser tab)."""
    import textual_serve
    from textual_serve.server import Server

    statics = Path(textual_serve.__file__).parent / "static"
    return Server(
        command,
        host=host,
        port=port,
        title="runtime dashboard",
        statics_path=statics,
        templates_path=TEMPLATES,
    )
