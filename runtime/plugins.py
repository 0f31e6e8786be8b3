"""The plugin manager: entry points, config-listed modules, a block list, named errors.

Entry points are loaded one at a time (pluggy's bulk loader stops at the first broken
plugin): each failure is kept with the plugin's name so `runtime plugin list` can show
it and `runtime start` can refuse to run with a sentence naming the plugin and cause.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from runtime import hookspecs
from runtime.config import Config
from runtime.errors import PluginLoadError
from runtime.jobs import JobRegistry

ENTRY_POINT_GROUP = "runtime.plugins"
log = logging.getLogger("runtime.plugins")


@dataclass
class PluginInfo:
    name: str
    source: str  # "entry point <dist> <version>" or "module <name or path>"
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "version": self.version,
            "hooks": self.hooks,
            "jobs": self.jobs,
            "error": self.error,
        }


class Plugins:
    """Loaded plugins, the pluggy manager and the job registry they filled."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pm = pluggy.PluginManager("runtime")
        self.pm.add_hookspecs(hookspecs)
        self.registry = JobRegistry()
        self.infos: list[PluginInfo] = []
        for name in config.plugins.disable:
            self.pm.set_blocked(name)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a notification hook on each plugin in isolation: a failing plugin is
        logged and the others still run (pluggy would stop at the first exception)."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)

    def errors(self) -> list[PluginInfo]:
        return [info for info in self.infos if info.error]

    def raise_for_errors(self) -> None:
        """Refuse to go on when a plugin failed, naming each one and its cause."""
        failed = self.errors()
        if failed:
            raise PluginLoadError(
                " ".join(f"plugin '{i.name}' failed to load: {i.error}" for i in failed)
            )

    def load(self) -> Plugins:
        if self.config.plugins.autoload:
            for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                self._load_entry_point(entry_point)
        for ref in self.config.plugins.modules:
            self._load_module_ref(ref)
        self._check_pending()
        return self

    def _load_entry_point(self, entry_point: importlib.metadata.EntryPoint) -> None:
        if self.pm.is_blocked(entry_point.name) or self.pm.has_plugin(entry_point.name):
            return
        dist = entry_point.dist
        info = PluginInfo(
            entry_point.name,
            f"entry point {dist.name if dist else '?'}",
            dist.version if dist else None,
        )
        self._register(info, entry_point.load)

    def _load_module_ref(self, ref: str) -> None:
        is_path = ref.endswith(".py") or "/" in ref
        name = Path(ref).stem if is_path else ref
        if self.pm.is_blocked(name) or self.pm.has_plugin(name):
            return
        info = PluginInfo(name, f"module {ref}")
        self._register(info, lambda: self._import(ref, is_path))

    def _import(self, ref: str, is_path: bool) -> ModuleType:
        if not is_path:
            return importlib.import_module(ref)
        path = Path(ref)
        if not path.is_absolute():
            path = self.config.base_dir / path
        if not path.exists():
            raise FileNotFoundError(f"no such file {path}")
        spec = importlib.util.spec_from_file_location(f"runtime_plugin_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    def _register(self, info: PluginInfo, load: Any) -> None:
        self.infos.append(info)
        try:
            plugin = load()
            self.pm.register(plugin, name=info.name)
            info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            self._collect_jobs(info, plugin)
        except Exception as exc:
            if self.pm.has_plugin(info.name):
                self.pm.unregister(name=info.name)
            info.error = _cause(exc)
            log.debug("plugin %s failed:\n%s", info.name, traceback.format_exc())

    def _collect_jobs(self, info: PluginInfo, plugin: object) -> None:
        impl = getattr(plugin, "register_jobs", None)
        if impl is None:
            return
        before = {spec.name for spec in self.registry}
        self.registry.registering_for(info.name)
        impl(registry=self.registry)
        info.jobs = sorted({spec.name for spec in self.registry} - before)

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or "?"
            for info in self.infos:
                if info.name == name:
                    info.error = f"implements an unknown hook ({exc})"


def _cause(exc: BaseException) -> str:
    text = str(exc).rstrip(".") or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def load_plugins(config: Config) -> Plugins:
    return Plugins(config).load()
