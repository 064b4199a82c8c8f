"""The one orchestrator: ``python -m pipeline run plans/<name>.yaml`` (plan.py: the schema; stages.py: the stages and
the resume rule; runner.py: the order)."""
