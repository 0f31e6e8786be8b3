"""Opening and closing a backend for the control plane, the errors that mean it is
unreachable, its URL as shown (masked), and the plugins as configured."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from runtime.backends.base.storage import Backend
from runtime.config import Config
from runtime.masking import mask_url

if TYPE_CHECKING:
    from runtime.plugins import Plugins


def connect(config: Config) -> Backend:
    """The configured backend, reachable (BackendUnavailable otherwise)."""
    from runtime.backends import open_backend

    backend = open_backend(config.runtime.backend, config.base_dir)
    backend.ping()
    return backend


def disconnect(backend: Backend) -> None:
    with contextlib.suppress(Exception):  # it may be gone already: an outage
        backend.close()


def outage_errors() -> tuple[type[Exception], ...]:
    """What a call raises when the backend cannot be reached right now."""
    from runtime.backends import outage_errors as errors

    return errors()


def display_url(config: Config) -> str:
    return mask_url(config.runtime.backend)


def load_plugins(config: Config) -> Plugins:
    from runtime.plugins import load_plugins as load

    return load(config)
