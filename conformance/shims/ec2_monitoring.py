"""EC2 detailed monitoring.

``aws_instance`` with ``monitoring = true`` calls MonitorInstances, which moto 5.2 leaves as a NotImplementedError
(HTTP 500, retried by the provider until it gives up). The shim records the state on the instance and answers as AWS
does; DescribeInstances then reports ``Monitoring.State`` from moto's own instance model.
"""

from __future__ import annotations

from typing import Any

GAP = "MonitorInstances / UnmonitorInstances are not implemented (HTTP 500)"

_TEMPLATE = (
    '<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>shim</requestId>'
    "<instancesSet>{items}</instancesSet></{action}Response>"
)


def _set_monitoring(self: Any, action: str, state: str) -> str:
    ids = self._get_param("InstanceIds", [])
    items = []
    for instance in self.ec2_backend.get_multi_instances_by_id(ids):
        instance.monitoring_state = state
        items.append(
            f"<item><instanceId>{instance.id}</instanceId><monitoring><state>{state}</state></monitoring></item>"
        )
    return _TEMPLATE.format(action=action, items="".join(items))


def monitor_instances(self: Any) -> str:
    self.error_on_dryrun()
    return _set_monitoring(self, "MonitorInstances", "enabled")


def unmonitor_instances(self: Any) -> str:
    self.error_on_dryrun()
    return _set_monitoring(self, "UnmonitorInstances", "disabled")


def is_gap(source: str) -> bool:
    return "not yet implemented" in source


def apply() -> None:
    import inspect

    from moto.ec2.responses.monitoring import Monitoring

    # Replace only moto's placeholder: an implemented operation would no longer raise NotImplementedError.
    if is_gap(inspect.getsource(Monitoring.monitor_instances)):
        Monitoring.monitor_instances = monitor_instances  # type: ignore[method-assign]
        Monitoring.unmonitor_instances = unmonitor_instances  # type: ignore[method-assign]
