"""The composition root of a working process: DBOS configured beside our database, every
capability's workflows, queues and schedules collected, and DBOS launched.

Capabilities declare what they need in their ``workflows.py`` (a ``DECLARED``
:class:`~ledgerbridge.durable.Declaration`) and never import this module; it imports them.
"""

from __future__ import annotations

import gc
import logging
import threading
from datetime import timedelta
from typing import IO

from dbos import DBOS, DBOSConfig

from ledgerbridge import __version__, durable, executors, housekeeping
from ledgerbridge.connections import workflows as connection_workflows
from ledgerbridge.db.engine import system_engine_kwargs
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.erasure import workflows as erasure_workflows
from ledgerbridge.inbound import workflows as inbound_workflows
from ledgerbridge.push import workflows as push_workflows
from ledgerbridge.reconcile import workflows as reconcile_workflows
from ledgerbridge.services import DBOS_SCHEMA, Services
from ledgerbridge.settings import Settings
from ledgerbridge.sync import workflows as sync_workflows
from ledgerbridge.webhooks import workflows as webhook_workflows

# Importing a workflows module registers its workflows with DBOS; these are what it declares.
DECLARATIONS = (
    sync_workflows.DECLARED,
    push_workflows.DECLARED,
    reconcile_workflows.DECLARED,
    connection_workflows.DECLARED,
    erasure_workflows.DECLARED,
    inbound_workflows.DECLARED,
    webhook_workflows.DECLARED,
    housekeeping.DECLARED,
)
_running: list[tuple[threading.Event, IO[str] | None]] = []  # heartbeat, worker slot


def dbos_config(settings: Settings, executor_id: str | None = None) -> DBOSConfig:
    return {
        "name": "ledgerbridge",
        "executor_id": executor_id,
        "system_database_url": settings.dbos_system_database_url,
        "dbos_system_schema": DBOS_SCHEMA,
        "application_version": __version__,
        "log_level": settings.log_level.upper(),
        "sys_db_pool_size": max(4, settings.db_pool_size // 2),
        "db_engine_kwargs": system_engine_kwargs(settings.dbos_system_database_url),
        "scheduler_polling_interval_sec": 5.0,
    }


def migrate(settings: Settings) -> None:
    """Bring our tables and DBOS's up to date."""
    upgrade(settings.resolved_database_url)
    migrate_durable(settings)


def migrate_durable(settings: Settings) -> None:
    """Bring DBOS's tables up to date, so that an API-only process can enqueue work and
    manage schedules before any worker has started."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    DBOS.migrate(settings.dbos_system_database_url, schema=DBOS_SCHEMA)


def launch(svc: Services) -> DBOS:
    """Start executing workflows, queues and schedules in this process (``up``/``worker``)."""
    svc.settings.data_dir.mkdir(parents=True, exist_ok=True)
    durable.bind(svc)  # before launch: launching may resume interrupted workflows
    executor_id, slot = executor(svc.settings)
    # Alive before launching: launching recovers this executor's own pending workflows,
    # which no other worker may take for a gone executor's meanwhile.
    executors.beat(svc.db, executor_id, starting=True)
    dbos = DBOS(config=dbos_config(svc.settings, executor_id))
    # What the process holds from here on (modules, schemas, the app) lives as long as it
    # does: the cyclic collector no longer walks it on each full pass. Those passes come
    # every few pages of a sync, whose decoded payloads are many short-lived containers.
    gc.collect()
    gc.freeze()
    DBOS.launch()
    timeout = timedelta(seconds=svc.settings.executor_timeout_seconds)
    _running.append((executors.keep_alive(svc.db, executor_id, timeout, _recover), slot))
    durable.register(DECLARATIONS)
    # DBOS installs its own console handler; send its records through our JSON logs instead.
    logging.getLogger("dbos").handlers.clear()
    logging.getLogger("dbos").propagate = True
    return dbos


def executor(settings: Settings) -> tuple[str, IO[str] | None]:
    """This worker's executor id, stable across its restarts, and the slot file it holds."""
    if settings.executor_id:
        return settings.executor_id, None
    slot, handle = executors.take_slot(settings.dbos_system_database_url)
    return f"{executors.host_name()}-{slot}", handle


def _recover(executor_id: str) -> int:
    return len(DBOS._recover_pending_workflows([executor_id]))


def shutdown() -> None:
    for stop, _ in _running:
        stop.set()
    DBOS.destroy(destroy_registry=False)
    while _running:  # the slot last: a successor may take it once this one is gone
        _, slot = _running.pop()
        if slot is not None:
            slot.close()
