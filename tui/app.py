"""The dashboard App: screens by key, the home snapshot read every refresh, the connection
state, and toasts for newly firing alerts. Screens live in tui/screens/, widgets in
tui/widgets/, styles in app.tcss; every read and action goes through tui.data."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker

from tui.data import DashboardData, Disconnected
from tui.keymap import keymap
from tui.screens.alerts import AlertsScreen
from tui.screens.base import PolledScreen, idle
from tui.screens.events import EventsScreen
from tui.screens.failures import FailuresScreen
from tui.screens.help import HelpScreen
from tui.screens.jobs import JobsScreen
from tui.screens.metrics import MetricsScreen
from tui.screens.plugins import PluginsScreen
from tui.screens.queues import QueuesScreen
from tui.screens.workers import WorkersScreen

# Screen keys (pinned): 1 Queues (home) ... 8 Plugins & cron.
SCREENS_BY_KEY = {
    "1": ("queues", "Queues"),
    "2": ("jobs", "Jobs"),
    "3": ("failures", "Failures"),
    "4": ("workers", "Workers"),
    "5": ("alerts", "Alerts"),
    "6": ("events", "Events"),
    "7": ("metrics", "Metrics"),
    "8": ("plugins", "Plugins & cron"),
}


class DashboardApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "runtime dashboard"
    MODES: ClassVar[dict[str, Any]] = {
        "queues": QueuesScreen,
        "jobs": JobsScreen,
        "failures": FailuresScreen,
        "workers": WorkersScreen,
        "alerts": AlertsScreen,
        "events": EventsScreen,
        "metrics": MetricsScreen,
        "plugins": PluginsScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Keys", id="help"),
        Binding("colon,ctrl+p", "command_palette", "Commands", show=False, id="commands"),
        Binding("tab", "cycle(1)", "Next screen", show=False, id="next_screen"),
        Binding("shift+tab", "cycle(-1)", "Previous screen", show=False, id="previous_screen"),
        *(
            Binding(key, f"switch_mode('{mode}')", title, show=False, id=f"screen.{mode}")
            for key, (mode, title) in SCREENS_BY_KEY.items()
        ),
    ]

    def __init__(self, data: DashboardData, *, refresh_seconds: float = 1.0) -> None:
        super().__init__()
        self.data = data
        self.refresh_seconds = refresh_seconds
        self.home: dict[str, Any] | None = None  # the last home snapshot read
        self.error: str | None = None  # why the backend is unreachable, while it is
        self._alerts_seen: set[str] | None = None  # firing alert ids already announced
        self._home_reading: Worker[None] | None = None
        self.set_keymap(keymap(data.config.dashboard.keys, type(self)))
        try:
            self.version = version("runtime-jobs")
        except PackageNotFoundError:  # a source tree that was never installed
            self.version = "dev"

    @property
    def read_only(self) -> bool:
        return self.data.read_only

    def on_mount(self) -> None:
        self.switch_mode("queues")
        self.set_interval(self.refresh_seconds, self.poll_home)
        self.poll_home()

    def header_state(self) -> tuple[str, str, dict[str, Any] | None, str | None, bool]:
        return self.version, self.data.display_url, self.home, self.error, self.read_only

    # -- the home snapshot -----------------------------------------------------------
    def poll_home(self) -> None:
        # A modal (confirmation, job detail) in front: its screen below keeps its data.
        if isinstance(self.screen, PolledScreen) and idle(self._home_reading):
            self._home_reading = self._read_home()

    @work(thread=True, exclusive=True, group="home", exit_on_error=False)
    def _read_home(self) -> None:
        try:
            home = self.data.home()
        except Disconnected as exc:
            self.call_from_thread(self.connection_changed, str(exc))
            return
        self.call_from_thread(self._home_read, home)

    def _home_read(self, home: dict[str, Any]) -> None:
        self.home = home
        self._announce_alerts(home["alerts"])
        self.connection_changed(None)

    def connection_changed(self, error: str | None) -> None:
        self.error = error
        if isinstance(self.screen, PolledScreen):
            self.screen.home_changed()

    def _announce_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """A toast for each alert that started firing since the last read, wherever you are
        (not for those already firing when the dashboard opened)."""
        firing = {str(a["id"]): a for a in alerts if a.get("state") == "firing" and a.get("id")}
        if self._alerts_seen is not None:
            for alert_id in firing.keys() - self._alerts_seen:
                alert = firing[alert_id]
                critical = alert["severity"] == "critical"
                title = f"alert {alert['rule']}"
                self.notify(
                    alert["message"], title=title, severity="error" if critical else "warning"
                )
        self._alerts_seen = set(firing)

    # -- the command palette (ctrl+p or :) --------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands, every screen, and each action the screen it was opened
        on offers now (a read-only dashboard's screens offer no control)."""
        titles = set()
        for command in super().get_system_commands(screen):
            titles.add(command.title)
            yield command
        for key, (mode, title) in SCREENS_BY_KEY.items():
            yield SystemCommand(f"Go to {title}", f"screen {key}", partial(self.switch_mode, mode))
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if active.enabled and binding.show and binding.description not in titles:
                titles.add(binding.description)
                action = partial(self.run_action, binding.action, active.node)
                yield SystemCommand(binding.description, f"key {key}", action)

    # -- actions ---------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.read_only))

    def action_cycle(self, step: int) -> None:
        modes = [mode for mode, _ in SCREENS_BY_KEY.values()]
        current = modes.index(self.current_mode) if self.current_mode in modes else 0
        self.switch_mode(modes[(current + step) % len(modes)])

    def on_unmount(self) -> None:
        self.data.close()
