"""RDS Performance Insights.

moto accepts ``EnablePerformanceInsights`` (and its KMS key and retention) on CreateDBInstance/ModifyDBInstance but
keeps none of it: DescribeDBInstances answers ``PerformanceInsightsEnabled: false``. The provider then plans a change
on every run and a live read cannot see the setting. The shim keeps the three values and answers them.
"""

from __future__ import annotations

from typing import Any

GAP = "Performance Insights settings are accepted but not kept"

_KEPT = ("enable_performance_insights", "performance_insights_kms_key_id", "performance_insights_retention_period")


def apply() -> None:
    from moto.rds import models

    if "performance_insights_enabled" in models.DBInstance.__dict__:
        return  # moto answers it itself now
    original = models.DBInstance.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for key in _KEPT:
            if kwargs.get(key) is not None:
                setattr(self, key, kwargs[key])

    def performance_insights_enabled(self: Any) -> bool:
        # ModifyDBInstance stores the request's own name (enable_performance_insights) on the instance.
        return bool(getattr(self, "enable_performance_insights", False))

    models.DBInstance.__init__ = __init__  # type: ignore[method-assign]
    models.DBInstance.performance_insights_enabled = property(performance_insights_enabled)  # type: ignore[attr-defined]
