"""Run a plan's stages in order: select (``only``), check every selected stage's output before any computes, then
run each that is not done (or is ``force``d). ``pipeline/stages.py`` holds the one resume rule."""

from __future__ import annotations

import time

from pipeline.plan import Plan, PlanError
from pipeline.stages import Stage, build_stages


def matches(stage: Stage, names: list[str]) -> bool:
    """A stage is named by its full name (``eval:base``) or its group (``eval``: every model's)."""
    return stage.name in names or stage.group in names


def check_names(stages: list[Stage], names: list[str]) -> None:
    known = sorted({s.name for s in stages} | {s.group for s in stages})
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        raise PlanError(f"unknown stage(s) {unknown}; this plan's stages are {', '.join(s.name for s in stages)}")


def run_plan(plan: Plan, only: list[str] | None = None, force: list[str] = ()) -> list[str]:
    """Run every unfinished stage of ``plan`` (or just ``only``); returns the names of the stages that ran."""
    force = list(force)
    stages = build_stages(plan, forced=lambda name: name in force or name.split(":")[0] in force)
    check_names(stages, [*(only or []), *force])
    selected = [s for s in stages if only is None or matches(s, only)]
    for stage in selected:  # a file in the way or a foreign folder stops the run here, before any compute
        stage.check()
    ran = []
    for stage in selected:
        # decided just before the stage runs, from what the stages before it wrote
        if not matches(stage, force) and stage.done is not None and stage.done():
            print(f"[{stage.name}] done earlier; skipping", flush=True)
            continue
        print(f"[{stage.name}] starting", flush=True)
        start = time.perf_counter()
        stage.run()
        print(f"[{stage.name}] finished in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
        ran.append(stage.name)
    return ran


def describe(plan: Plan) -> list[str]:
    """One line per stage: its name and whether it is done (what ``run`` would skip)."""
    lines = []
    for stage in build_stages(plan):
        state = "always runs" if stage.done is None else ("done" if stage.done() else "to run")
        lines.append(f"{stage.name:28s} {state}")
    return lines
