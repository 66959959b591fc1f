"""DBOS, the durable-execution runtime: configured beside our database, launched by workers."""

from __future__ import annotations

import logging

from dbos import DBOS, DBOSConfig

from ledgerbridge import __version__
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings

DBOS_SCHEMA = "dbos"


def system_database_url(settings: Settings) -> str:
    return settings.dbos_system_database_url.replace("postgresql+psycopg://", "postgresql://")


def dbos_config(settings: Settings) -> DBOSConfig:
    url = system_database_url(settings)
    return {
        "name": "ledgerbridge",
        "system_database_url": url,
        "dbos_system_schema": DBOS_SCHEMA,
        "application_version": __version__,
        "log_level": settings.log_level.upper(),
        "sys_db_pool_size": max(4, settings.db_pool_size // 2),
        "scheduler_polling_interval_sec": 5.0,
    }


def migrate(settings: Settings) -> None:
    """Bring our tables and DBOS's up to date, so that an API-only process can enqueue
    work and manage schedules before any worker has started."""
    upgrade(settings.resolved_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    DBOS.migrate(system_database_url(settings), schema=DBOS_SCHEMA)


def launch(svc: Services) -> DBOS:
    """Start executing workflows, queues and schedules in this process (``up``/``worker``)."""
    # Importing the workflow modules registers their workflows with DBOS.
    from ledgerbridge import housekeeping
    from ledgerbridge.audit import workflows as audit_workflows
    from ledgerbridge.connections import workflows as connection_workflows
    from ledgerbridge.erasure import workflows as erasure_workflows
    from ledgerbridge.push import workflows as push_workflows
    from ledgerbridge.reconcile import workflows as reconcile_workflows
    from ledgerbridge.sync import workflows as sync_workflows

    capabilities = (
        sync_workflows,
        push_workflows,
        reconcile_workflows,
        audit_workflows,
        connection_workflows,
        erasure_workflows,
        housekeeping,
    )
    svc.settings.data_dir.mkdir(parents=True, exist_ok=True)
    for capability in capabilities:
        capability.bind(svc)  # before launch: launching may resume interrupted workflows
    dbos = DBOS(config=dbos_config(svc.settings))
    DBOS.launch()
    for capability in capabilities:
        capability.register()
    # DBOS installs its own console handler; send its records through our JSON logs instead.
    logging.getLogger("dbos").handlers.clear()
    logging.getLogger("dbos").propagate = True
    return dbos


def shutdown() -> None:
    DBOS.destroy(destroy_registry=False)
