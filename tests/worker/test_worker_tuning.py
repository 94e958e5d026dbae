"""The worker's concurrency, pollers and sticky cache come from the settings
(`PAKTA_WORKER_*`)."""

from __future__ import annotations

from services.settings import Settings
from services.worker.main import build_worker


async def test_a_worker_runs_as_many_tasks_and_keeps_as_many_polls_and_workflows_as_its_settings_say(
    temporal_env, settings: Settings, sessionmaker, task_queue: str
):
    tuned = settings.model_copy(
        update={
            "worker_max_workflow_tasks": 7,
            "worker_max_activities": 11,
            "worker_max_local_activities": 13,
            "worker_workflow_pollers": 3,
            "worker_activity_pollers": 2,
            "worker_cached_workflows": 17,
        }
    )
    config = build_worker(temporal_env.client, tuned, sessionmaker=sessionmaker, task_queue=task_queue).config()
    assert (
        config["max_concurrent_workflow_tasks"],
        config["max_concurrent_activities"],
        config["max_concurrent_local_activities"],
        config["max_concurrent_workflow_task_polls"],
        config["max_concurrent_activity_task_polls"],
        config["max_cached_workflows"],
    ) == (7, 11, 13, 3, 2, 17)
