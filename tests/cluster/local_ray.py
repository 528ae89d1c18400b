"""One local Ray per test module: 2 CPUs, a small object store, no dashboard. Started and
stopped through pocketos.cluster.raystart, so the test process's wasm runtimes keep their
crash-signal handlers for the tests that run after."""

from __future__ import annotations

import ray

from pocketos.cluster.raystart import init_ray, shutdown_ray


def start_local_ray() -> bool:
    """Start Ray unless this process already has one; True when it was started here. A
    loaded machine can make the node miss Ray's fixed start-up deadline: one retry."""
    if ray.is_initialized():
        return False
    for attempt in (1, 2):
        try:
            init_ray(
                address="local",  # never another process's Ray on this machine
                num_cpus=2,
                object_store_memory=100 * 2**20,
                include_dashboard=False,
                log_to_driver=False,
            )
            return True
        except Exception:
            shutdown_ray()
            if attempt == 2:
                raise
    return False


def stop_local_ray() -> None:
    shutdown_ray()
