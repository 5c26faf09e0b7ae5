"""A deterministic simulator of the Kubernetes HorizontalPodAutoscaler controller (autoscaling/v2).

It reproduces, to the replica, how ``pkg/controller/podautoscaler`` in kubernetes/kubernetes turns metrics
into a replica count:

* the replica calculator (``replica_calculator.go`` ``GetResourceReplicas`` / ``calcPlainMetricReplicas`` and
  ``metrics/utilization.go``): integer utilization, the tolerance band, missing and not-yet-ready pods;
* the combination of several metrics (``computeReplicasForMetrics``): the largest proposal wins;
* the legacy normalisation when ``spec.behavior`` is nil (``normalizeDesiredReplicas``): a rolling maximum
  over the downscale stabilization window, then ``minReplicas`` and ``min(maxReplicas, max(2 * current, 4))``;
* the ``behavior`` normalisation (``normalizeDesiredReplicasWithBehaviors``): up and down stabilization
  windows, ``Pods``/``Percent`` policies over ``periodSeconds`` computed from the scale-event history,
  ``selectPolicy`` ``Max``/``Min``/``Disabled``, and the API server's defaulting of partly written behaviors.

Time is simulated: a sync happens every ``sync_period_s`` seconds starting at t=0, and the controller's
``time.Now()`` comparisons (``Before``/``After``, which differ at the exact boundary) apply to that clock.
See docs/hpa-simulator.md for the load model and the known deviations from a live cluster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeAlias

# Controller flags and their kube-controller-manager defaults.
DEFAULT_TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
DEFAULT_DOWNSCALE_STABILIZATION_S = 300  # --horizontal-pod-autoscaler-downscale-stabilization
DEFAULT_SYNC_PERIOD_S = 15  # --horizontal-pod-autoscaler-sync-period
# horizontal.go: the legacy path never more than doubles (and always allows 4) per sync.
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
# pkg/apis/autoscaling/validation: bounds the API server enforces on behavior.
MAX_POLICY_PERIOD_S = 1800
MAX_STABILIZATION_WINDOW_S = 3600
# SetDefaults_HorizontalPodAutoscaler: the CPU target an HPA without metrics gets.
API_DEFAULT_CPU_UTILIZATION = 80
DEFAULT_CPU_REQUEST_MILLI = 1000

_INT32_MAX = 2**31 - 1
_INT32_MIN = -(2**31)


# ----------------------------------------------------------------------------------------------------
# Spec: behavior, policies, the HPA itself
# ----------------------------------------------------------------------------------------------------


class PolicyType(StrEnum):
    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclass(frozen=True)
class ScalingPolicy:
    """One ``HPAScalingPolicy``: at most ``value`` pods (or percent) of change within ``period_seconds``."""

    type: PolicyType
    value: int
    period_seconds: int

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError(f"policy value must be > 0, got {self.value}")
        if not 0 < self.period_seconds <= MAX_POLICY_PERIOD_S:
            raise ValueError(f"policy periodSeconds must be in 1..{MAX_POLICY_PERIOD_S}, got {self.period_seconds}")


@dataclass(frozen=True)
class ScalingRules:
    """``HPAScalingRules`` as written in a manifest: ``None`` means "not set" and gets the API default."""

    policies: tuple[ScalingPolicy, ...] | None = None
    select_policy: SelectPolicy | None = None
    stabilization_window_seconds: int | None = None
    # behavior.scale{Up,Down}.tolerance (HPAConfigurableTolerance); None falls back to HpaSpec.tolerance.
    tolerance: float | None = None

    def __post_init__(self) -> None:
        if self.policies is not None and not self.policies:
            raise ValueError("policies must list at least one policy when set")
        window = self.stabilization_window_seconds
        if window is not None and not 0 <= window <= MAX_STABILIZATION_WINDOW_S:
            raise ValueError(f"stabilizationWindowSeconds must be in 0..{MAX_STABILIZATION_WINDOW_S}, got {window}")
        if self.tolerance is not None and self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")


@dataclass(frozen=True)
class ResolvedRules:
    """Scaling rules after API-server defaulting and the controller's downscale-window fill-in."""

    policies: tuple[ScalingPolicy, ...]
    select_policy: SelectPolicy
    stabilization_window_seconds: int
    tolerance: float | None


# pkg/apis/autoscaling/v2/defaults.go: defaultHPAScaleUpRules / defaultHPAScaleDownRules.
DEFAULT_SCALE_UP_RULES = ScalingRules(
    policies=(ScalingPolicy(PolicyType.PODS, 4, 15), ScalingPolicy(PolicyType.PERCENT, 100, 15)),
    select_policy=SelectPolicy.MAX,
    stabilization_window_seconds=0,
)
# The scale-down window is deliberately unset: the controller fills it from its command-line flag.
DEFAULT_SCALE_DOWN_RULES = ScalingRules(
    policies=(ScalingPolicy(PolicyType.PERCENT, 100, 15),),
    select_policy=SelectPolicy.MAX,
    stabilization_window_seconds=None,
)


def _resolve(written: ScalingRules | None, default: ScalingRules, window_fallback: int) -> ResolvedRules:
    """Field-by-field merge of written rules over defaults, as ``copyHPAScalingRules`` does."""
    rules = written or ScalingRules()
    policies = rules.policies if rules.policies is not None else default.policies
    select = rules.select_policy or default.select_policy
    window = rules.stabilization_window_seconds
    if window is None:
        window = default.stabilization_window_seconds
    if window is None:  # maybeInitScaleDownStabilizationWindow
        window = window_fallback
    # The defaults always carry both.
    assert policies is not None
    assert select is not None
    return ResolvedRules(policies, select, window, rules.tolerance)


@dataclass(frozen=True)
class Behavior:
    """``spec.behavior``; either direction may be omitted and is then defaulted."""

    scale_up: ScalingRules | None = None
    scale_down: ScalingRules | None = None

    def resolve(self, downscale_stabilization_s: int) -> tuple[ResolvedRules, ResolvedRules]:
        """(scaleUp, scaleDown) rules as the controller sees them."""
        up = _resolve(self.scale_up, DEFAULT_SCALE_UP_RULES, 0)
        down = _resolve(self.scale_down, DEFAULT_SCALE_DOWN_RULES, downscale_stabilization_s)
        return up, down


@dataclass(frozen=True)
class Tolerances:
    """The dead band around a usage ratio of 1.0 within which the calculator keeps the current count."""

    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def is_within(self, usage_ratio: float) -> bool:
        # Both bounds are inclusive, exactly as Tolerances.isWithin.
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


@dataclass(frozen=True)
class HpaSpec:
    """What the simulator needs of an autoscaling/v2 HorizontalPodAutoscaler with a CPU utilization target.

    ``tolerance`` and ``downscale_stabilization_s`` are kube-controller-manager flags, not HPA fields; they
    are here so one object describes a run. ``ignored_metrics`` names metrics of the manifest the simulator
    does not model (memory, pods, object, external...): with them a real cluster may run *more* replicas.
    """

    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int
    behavior: Behavior | None = None
    tolerance: float = DEFAULT_TOLERANCE
    downscale_stabilization_s: int = DEFAULT_DOWNSCALE_STABILIZATION_S
    ignored_metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_replicas < 1:
            raise ValueError(f"minReplicas must be >= 1, got {self.min_replicas}")
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"maxReplicas ({self.max_replicas}) must be >= minReplicas ({self.min_replicas})")
        if self.target_cpu_utilization <= 0:
            raise ValueError(f"target CPU averageUtilization must be > 0, got {self.target_cpu_utilization}")
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")
        if self.downscale_stabilization_s < 0:
            raise ValueError(f"downscale stabilization must be >= 0, got {self.downscale_stabilization_s}")

    def tolerances(self) -> Tolerances:
        """Per-direction tolerances: behavior's own if set, otherwise the controller-wide flag."""
        up = down = self.tolerance
        if self.behavior is not None:
            rules_up, rules_down = self.behavior.resolve(self.downscale_stabilization_s)
            up = rules_up.tolerance if rules_up.tolerance is not None else up
            down = rules_down.tolerance if rules_down.tolerance is not None else down
        return Tolerances(scale_down=down, scale_up=up)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], *, apply_api_default_metrics: bool = False) -> HpaSpec:
        """Read an autoscaling/v2 HorizontalPodAutoscaler object (as parsed from YAML).

        Raises ValueError naming the offending field. Without ``spec.metrics`` the API server would default
        to CPU at 80%; that is accepted only with ``apply_api_default_metrics`` because a conformance suite
        usually wants the target written down.
        """
        return _parse_manifest(manifest, apply_api_default_metrics)


# ----------------------------------------------------------------------------------------------------
# Manifest parsing
# ----------------------------------------------------------------------------------------------------


def _mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: expected a mapping, got {type(value).__name__}")
    return value


def _int(value: object, path: str, *, low: int | None = None, high: int | None = None) -> int:
    # bool is an int in Python; YAML `true` must not pass for a replica count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{path}: expected an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        raise ValueError(f"{path}: must be in {bounds}, got {value}")
    return value


def _quantity(value: object, path: str) -> float:
    """A resource.Quantity such as 0.05, "0.05" or "50m"; enough for tolerances."""
    if isinstance(value, bool):
        raise ValueError(f"{path}: expected a quantity, got {value!r}")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
        except ValueError:
            raise ValueError(f"{path}: not a quantity: {value!r}") from None
    else:
        raise ValueError(f"{path}: expected a quantity, got {value!r}")
    if result < 0 or math.isnan(result):
        raise ValueError(f"{path}: must be >= 0, got {value!r}")
    return result


def _parse_policy(raw: object, path: str) -> ScalingPolicy:
    item = _mapping(raw, path)
    kind = item.get("type")
    if kind not in {p.value for p in PolicyType}:
        raise ValueError(f"{path}.type: must be Pods or Percent, got {kind!r}")
    value = _int(item.get("value"), f"{path}.value", low=1)
    period = _int(item.get("periodSeconds"), f"{path}.periodSeconds", low=1, high=MAX_POLICY_PERIOD_S)
    return ScalingPolicy(PolicyType(kind), value, period)


def _parse_rules(raw: object, path: str) -> ScalingRules | None:
    if raw is None:
        return None
    rules = _mapping(raw, path)
    policies: tuple[ScalingPolicy, ...] | None = None
    if "policies" in rules and rules["policies"] is not None:
        raw_policies = rules["policies"]
        if not isinstance(raw_policies, list) or not raw_policies:
            raise ValueError(f"{path}.policies: must be a non-empty list")
        policies = tuple(_parse_policy(p, f"{path}.policies[{i}]") for i, p in enumerate(raw_policies))
    select: SelectPolicy | None = None
    if rules.get("selectPolicy") is not None:
        if rules["selectPolicy"] not in {s.value for s in SelectPolicy}:
            raise ValueError(f"{path}.selectPolicy: must be Max, Min or Disabled, got {rules['selectPolicy']!r}")
        select = SelectPolicy(rules["selectPolicy"])
    window: int | None = None
    if rules.get("stabilizationWindowSeconds") is not None:
        window = _int(
            rules["stabilizationWindowSeconds"],
            f"{path}.stabilizationWindowSeconds",
            low=0,
            high=MAX_STABILIZATION_WINDOW_S,
        )
    tolerance = None
    if rules.get("tolerance") is not None:
        tolerance = _quantity(rules["tolerance"], f"{path}.tolerance")
    return ScalingRules(policies, select, window, tolerance)


def _describe_metric(metric: Mapping[str, Any]) -> str:
    kind = str(metric.get("type", "?"))
    source = metric.get(kind[:1].lower() + kind[1:], {}) if kind != "?" else {}
    name = source.get("name") if isinstance(source, Mapping) else None
    if name is None and isinstance(source, Mapping) and isinstance(source.get("metric"), Mapping):
        name = source["metric"].get("name")
    return f"{kind}:{name}" if name else kind


def _parse_metrics(spec: Mapping[str, Any], apply_defaults: bool) -> tuple[int, tuple[str, ...]]:
    """(CPU averageUtilization, descriptions of metrics the simulator ignores)."""
    metrics = spec.get("metrics")
    if not metrics:
        if apply_defaults:
            return API_DEFAULT_CPU_UTILIZATION, ()
        raise ValueError(
            "spec.metrics: missing; the simulator needs a Resource cpu metric with target.type Utilization "
            f"(the API server would default to {API_DEFAULT_CPU_UTILIZATION}%)"
        )
    if not isinstance(metrics, list):
        raise ValueError("spec.metrics: expected a list")
    target: int | None = None
    ignored: list[str] = []
    for i, raw in enumerate(metrics):
        metric = _mapping(raw, f"spec.metrics[{i}]")
        resource = metric.get("resource")
        is_cpu = metric.get("type") == "Resource" and isinstance(resource, Mapping) and resource.get("name") == "cpu"
        if not is_cpu:
            ignored.append(_describe_metric(metric))
            continue
        assert isinstance(resource, Mapping)
        metric_target = _mapping(resource.get("target"), f"spec.metrics[{i}].resource.target")
        if metric_target.get("type") != "Utilization":
            raise ValueError(
                f"spec.metrics[{i}].resource.target.type: the simulator needs Utilization, "
                f"got {metric_target.get('type')!r}"
            )
        target = _int(
            metric_target.get("averageUtilization"),
            f"spec.metrics[{i}].resource.target.averageUtilization",
            low=1,
        )
    if target is None:
        raise ValueError("spec.metrics: no Resource metric named cpu with a Utilization target")
    return target, tuple(ignored)


def _parse_manifest(manifest: Mapping[str, Any], apply_default_metrics: bool) -> HpaSpec:
    obj = _mapping(manifest, "manifest")
    if obj.get("apiVersion") != "autoscaling/v2":
        raise ValueError(f"apiVersion: expected autoscaling/v2, got {obj.get('apiVersion')!r}")
    if obj.get("kind") != "HorizontalPodAutoscaler":
        raise ValueError(f"kind: expected HorizontalPodAutoscaler, got {obj.get('kind')!r}")
    if "spec" not in obj:
        raise ValueError("spec: missing")
    spec = _mapping(obj["spec"], "spec")
    if "maxReplicas" not in spec:
        raise ValueError("spec.maxReplicas: missing (required)")
    max_replicas = _int(spec["maxReplicas"], "spec.maxReplicas", low=1)
    min_replicas = 1  # SetDefaults_HorizontalPodAutoscaler
    if spec.get("minReplicas") is not None:
        min_replicas = _int(spec["minReplicas"], "spec.minReplicas", low=1, high=max_replicas)
    target, ignored = _parse_metrics(spec, apply_default_metrics)
    behavior = None
    if spec.get("behavior") is not None:
        raw_behavior = _mapping(spec["behavior"], "spec.behavior")
        behavior = Behavior(
            scale_up=_parse_rules(raw_behavior.get("scaleUp"), "spec.behavior.scaleUp"),
            scale_down=_parse_rules(raw_behavior.get("scaleDown"), "spec.behavior.scaleDown"),
        )
    return HpaSpec(min_replicas, max_replicas, target, behavior, ignored_metrics=ignored)


# ----------------------------------------------------------------------------------------------------
# Replica calculator
# ----------------------------------------------------------------------------------------------------


class MetricsUnavailableError(ValueError):
    """No usable sample: the real controller fails the sync and leaves the scale alone."""


@dataclass(frozen=True)
class PodMetrics:
    """One pod as the replica calculator sees it.

    ``usage_milli`` None means the metrics API returned nothing for the pod. ``ready`` False means the pod is
    set aside as not yet ready (for CPU: unready, or within its initialization period with a stale sample).
    ``pending`` pods are set aside whatever the resource. Deleted and failed pods are simply not passed.
    """

    usage_milli: int | None
    request_milli: int = DEFAULT_CPU_REQUEST_MILLI
    ready: bool = True
    pending: bool = False

    def __post_init__(self) -> None:
        if self.usage_milli is not None and self.usage_milli < 0:
            raise ValueError(f"usage must be >= 0, got {self.usage_milli}")
        if self.request_milli <= 0:
            raise ValueError(f"request must be > 0 (utilization is undefined without it), got {self.request_milli}")


@dataclass(frozen=True)
class MetricProposal:
    """A metric's replica proposal and the value reported in status (before missing/unready adjustments)."""

    replicas: int
    current: int  # utilization percent, or average milli-value for average-value targets
    usage_ratio: float


@dataclass(frozen=True)
class _Groups:
    ready_count: int
    samples: dict[int, int]  # pod index -> usage, for pods whose sample counts
    unready: tuple[int, ...]
    missing: tuple[int, ...]


def _group_pods(pods: Sequence[PodMetrics], resource: str) -> _Groups:
    """groupPods: Pending -> unready; no sample -> missing; unready only matters for CPU."""
    samples: dict[int, int] = {}
    unready: list[int] = []
    missing: list[int] = []
    for i, pod in enumerate(pods):
        if pod.pending:
            unready.append(i)
        elif pod.usage_milli is None:
            missing.append(i)
        elif resource == "cpu" and not pod.ready:
            unready.append(i)
        else:
            samples[i] = pod.usage_milli
    return _Groups(len(samples), samples, tuple(unready), tuple(missing))


def _utilization(samples: Mapping[int, int], pods: Sequence[PodMetrics]) -> int:
    """GetResourceUtilizationRatio: integer percent of summed usage over summed requests (Go int division)."""
    usage = sum(samples.values())
    requests = sum(pods[i].request_milli for i in samples)
    return (usage * 100) // requests


def _adjusted_replicas(
    current_replicas: int,
    usage_ratio: float,
    new_ratio: float,
    counted_pods: int,
    tolerances: Tolerances,
) -> int:
    """The second half of the calculators, once missing/unready pods have been filled in."""
    reverses = (usage_ratio < 1.0 < new_ratio) or (usage_ratio > 1.0 > new_ratio)
    if tolerances.is_within(new_ratio) or reverses:
        return current_replicas
    new_replicas = math.ceil(new_ratio * counted_pods)
    # A change in the number of counted pods must not flip the direction either.
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (new_ratio > 1.0 and new_replicas < current_replicas):
        return current_replicas
    return new_replicas


def _calculate(
    current_replicas: int,
    pods: Sequence[PodMetrics],
    ratio_of: Callable[[Mapping[int, int]], tuple[float, int]],
    fallback_usage: Callable[[PodMetrics], int],
    tolerances: Tolerances,
    resource: str,
) -> MetricProposal:
    """The shape shared by GetResourceReplicas and calcPlainMetricReplicas."""
    if not pods:
        raise MetricsUnavailableError("no pods returned by selector while calculating replica count")
    groups = _group_pods(pods, resource)
    if not groups.samples:
        raise MetricsUnavailableError("did not receive metrics for targeted pods (pods might be unready)")
    usage_ratio, reported = ratio_of(groups.samples)
    scale_up_with_unready = bool(groups.unready) and usage_ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(usage_ratio):
            return MetricProposal(current_replicas, reported, usage_ratio)
        return MetricProposal(math.ceil(usage_ratio * groups.ready_count), reported, usage_ratio)

    samples = dict(groups.samples)
    if usage_ratio < 1.0:  # scale-down: missing pods assumed busy, so the drop is damped
        samples.update({i: fallback_usage(pods[i]) for i in groups.missing})
    elif usage_ratio > 1.0:  # scale-up: missing pods assumed idle, so the rise is damped
        samples.update(dict.fromkeys(groups.missing, 0))
    if scale_up_with_unready:
        samples.update(dict.fromkeys(groups.unready, 0))
    new_ratio, _ = ratio_of(samples)
    replicas = _adjusted_replicas(current_replicas, usage_ratio, new_ratio, len(samples), tolerances)
    return MetricProposal(replicas, reported, usage_ratio)


def utilization_replicas(
    current_replicas: int,
    pods: Sequence[PodMetrics],
    target_utilization: int,
    tolerances: Tolerances | None = None,
    *,
    resource: str = "cpu",
) -> MetricProposal:
    """``GetResourceReplicas``: a Resource metric with ``target.type: Utilization``.

    Raises MetricsUnavailableError when no pod has a usable sample.
    """
    if target_utilization <= 0:
        raise ValueError(f"target utilization must be > 0, got {target_utilization}")

    def ratio_of(samples: Mapping[int, int]) -> tuple[float, int]:
        utilization = _utilization(samples, pods)
        return utilization / target_utilization, utilization

    def fallback(pod: PodMetrics) -> int:
        # A missing pod on scale-down counts at 100% of its request (or at the target when that is higher).
        return pod.request_milli * max(100, target_utilization) // 100

    return _calculate(current_replicas, pods, ratio_of, fallback, tolerances or Tolerances(), resource)


def average_value_replicas(
    current_replicas: int,
    pods: Sequence[PodMetrics],
    target_average_milli: int,
    tolerances: Tolerances | None = None,
    *,
    resource: str = "cpu",
) -> MetricProposal:
    """``calcPlainMetricReplicas``: ``target.type: AverageValue`` on a Resource metric, or a Pods metric.

    Pass ``resource=""`` for a Pods (custom) metric, where readiness does not set a pod aside.
    """
    if target_average_milli <= 0:
        raise ValueError(f"target average value must be > 0, got {target_average_milli}")

    def ratio_of(samples: Mapping[int, int]) -> tuple[float, int]:
        average = sum(samples.values()) // len(samples)
        return average / target_average_milli, average

    def fallback(_pod: PodMetrics) -> int:
        return target_average_milli  # on scale-down a missing pod is assumed to sit exactly at the target

    return _calculate(current_replicas, pods, ratio_of, fallback, tolerances or Tolerances(), resource)


def combine_metric_proposals(proposals: Sequence[int | None], spec_replicas: int) -> int | None:
    """``computeReplicasForMetrics``: the largest proposal; ``None`` entries are metrics that failed.

    Returns None (the sync fails, nothing scales) when every metric failed, or when some failed and the others
    would scale down: the controller only acts on partial data to scale up.
    """
    valid = [p for p in proposals if p is not None]
    invalid = len(proposals) - len(valid)
    if not valid:
        return None
    best = max(valid)
    if invalid and best < spec_replicas:
        return None
    return best


# ----------------------------------------------------------------------------------------------------
# The controller's normalisation: stabilization, rate limits, clamps
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    t: float
    value: int


@dataclass(frozen=True)
class Step:
    """One controller sync.

    ``desired`` is the metrics' raw recommendation (``metricDesiredReplicas``), ``stabilized`` the value after
    the stabilization window, ``replicas`` what the target runs after the sync. ``desired``/``stabilized`` are
    None when the sync did not get that far (replicas out of range, scaling disabled, metrics unavailable).
    ``utilization`` is the observed CPU utilization percent when the step came from pod samples.
    """

    t: float
    previous: int
    replicas: int
    desired: int | None
    stabilized: int | None
    reason: str
    utilization: int | None = None


def legacy_scale_up_limit(current_replicas: int) -> int:
    """calculateScaleUpLimit: ``max(scaleUpLimitFactor * current, scaleUpLimitMinimum)``."""
    return int(max(SCALE_UP_LIMIT_FACTOR * current_replicas, SCALE_UP_LIMIT_MINIMUM))


def _change_in_period(events: Sequence[_Sample], now: float, period_s: int) -> int:
    # getReplicasChangePerPeriod: time.After(cutoff) is strict, so an event exactly period_s old no longer
    # counts.
    cutoff = now - period_s
    return sum(e.value for e in events if e.t > cutoff)


def scale_up_limit(
    current: int,
    up_events: Sequence[_Sample],
    down_events: Sequence[_Sample],
    rules: ResolvedRules,
    now: float,
) -> int:
    """calculateScaleUpLimitWithScalingRules: the highest count the policies allow right now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    pick, result = (min, _INT32_MAX) if rules.select_policy is SelectPolicy.MIN else (max, _INT32_MIN)
    for policy in rules.policies:
        period_start = (
            current
            - _change_in_period(up_events, now, policy.period_seconds)
            + _change_in_period(down_events, now, policy.period_seconds)
        )
        if policy.type is PolicyType.PODS:
            proposed = period_start + policy.value
        else:
            # Rounded up, or a small Percent could never add a pod.
            proposed = math.ceil(float(period_start) * (1 + policy.value / 100))
        result = pick(result, proposed)
    return result


def scale_down_limit(
    current: int,
    up_events: Sequence[_Sample],
    down_events: Sequence[_Sample],
    rules: ResolvedRules,
    now: float,
) -> int:
    """calculateScaleDownLimitWithBehaviors: the lowest count the policies allow right now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    # For scale-down the least change is the highest remaining count, hence the swap.
    pick, result = (max, _INT32_MIN) if rules.select_policy is SelectPolicy.MIN else (min, _INT32_MAX)
    for policy in rules.policies:
        period_start = (
            current
            - _change_in_period(up_events, now, policy.period_seconds)
            + _change_in_period(down_events, now, policy.period_seconds)
        )
        if policy.type is PolicyType.PODS:
            proposed = period_start - policy.value
        else:
            # Go's int32() truncates: the pods that stay are rounded down, the pods removed rounded up.
            proposed = int(float(period_start) * (1 - policy.value / 100))
        result = pick(result, proposed)
    return result


@dataclass
class HorizontalController:
    """The per-HPA state of the controller: recommendations and scale events, keyed by simulated time."""

    spec: HpaSpec
    recommendations: list[_Sample] = field(default_factory=list)
    scale_up_events: list[_Sample] = field(default_factory=list)
    scale_down_events: list[_Sample] = field(default_factory=list)

    def reconcile(self, now: float, current: int, metric_replicas: int | None, utilization: int | None = None) -> Step:
        """One ``reconcileAutoscaler`` pass given the metrics' proposal (None: metrics unavailable)."""
        spec = self.spec
        if not self.recommendations:  # recordInitialRecommendation
            self.recommendations.append(_Sample(now, current))
        if current == 0:
            # minReplicas >= 1 here, so a target scaled to zero means autoscaling is off.
            return Step(now, current, current, None, None, "ScalingDisabled", utilization)
        if current > spec.max_replicas:
            return self._apply(now, current, spec.max_replicas, None, None, "AboveMaxReplicas", utilization)
        if current < spec.min_replicas:
            return self._apply(now, current, spec.min_replicas, None, None, "BelowMinReplicas", utilization)
        if metric_replicas is None:
            return Step(now, current, current, None, None, "FailedComputeMetricsReplicas", utilization)
        desired = max(0, metric_replicas)
        if spec.behavior is None:
            stabilized, final, reason = self._normalize_legacy(now, current, desired)
        else:
            stabilized, final, reason = self._normalize_with_behavior(now, current, desired, spec.behavior)
        return self._apply(now, current, final, desired, stabilized, reason, utilization)

    def _apply(
        self,
        now: float,
        current: int,
        final: int,
        desired: int | None,
        stabilized: int | None,
        reason: str,
        utilization: int | None,
    ) -> Step:
        if final != current:
            self._store_scale_event(now, current, final)
        return Step(now, current, final, desired, stabilized, reason, utilization)

    def _store_scale_event(self, now: float, previous: int, new: int) -> None:
        # storeScaleEvent keeps no history without behavior: the legacy path never reads it. Upstream also
        # recycles outdated slots; dropping nothing is equivalent because outdated events never count again.
        if self.spec.behavior is None:
            return
        if new > previous:
            self.scale_up_events.append(_Sample(now, new - previous))
        else:
            self.scale_down_events.append(_Sample(now, previous - new))

    def _normalize_legacy(self, now: float, current: int, desired: int) -> tuple[int, int, str]:
        spec = self.spec
        # stabilizeRecommendation: samples strictly Before the cutoff are stale; one exactly at it counts.
        cutoff = now - spec.downscale_stabilization_s
        stabilized = max([desired, *(r.value for r in self.recommendations if not r.t < cutoff)])
        self.recommendations.append(_Sample(now, desired))
        reason = "ScaleDownStabilized" if stabilized != desired else "DesiredWithinRange"

        # convertDesiredReplicasWithRules
        limit = legacy_scale_up_limit(current)
        maximum, over_reason = (
            (limit, "ScaleUpLimit") if spec.max_replicas > limit else (spec.max_replicas, "TooManyReplicas")
        )
        if stabilized < spec.min_replicas:
            return stabilized, spec.min_replicas, "TooFewReplicas"
        if stabilized > maximum:
            return stabilized, maximum, over_reason
        return stabilized, stabilized, reason

    def _normalize_with_behavior(
        self, now: float, current: int, desired: int, behavior: Behavior
    ) -> tuple[int, int, str]:
        up, down = behavior.resolve(self.spec.downscale_stabilization_s)
        stabilized = self._stabilize(now, current, desired, up, down)
        if stabilized != desired:
            reason = "ScaleUpStabilized" if desired >= current else "ScaleDownStabilized"
        else:
            reason = "DesiredWithinRange"
        final, limited_reason = self._apply_rate_limits(now, current, stabilized, up, down)
        return stabilized, final, limited_reason or reason

    def _stabilize(self, now: float, current: int, desired: int, up: ResolvedRules, down: ResolvedRules) -> int:
        """stabilizeRecommendationWithBehaviors: clamp between the lowest (up) and highest (down) recent."""
        up_cutoff = now - up.stabilization_window_seconds
        down_cutoff = now - down.stabilization_window_seconds
        up_recommendation = down_recommendation = desired
        for rec in self.recommendations:
            # time.After is strict: a sample exactly one window old has left the window.
            if rec.t > up_cutoff:
                up_recommendation = min(rec.value, up_recommendation)
            if rec.t > down_cutoff:
                down_recommendation = max(rec.value, down_recommendation)
        self.recommendations.append(_Sample(now, desired))
        return min(max(current, up_recommendation), down_recommendation)

    def _apply_rate_limits(
        self, now: float, current: int, stabilized: int, up: ResolvedRules, down: ResolvedRules
    ) -> tuple[int, str | None]:
        """convertDesiredReplicasWithBehaviorRate: the count, and the ScalingLimited reason if limited."""
        spec = self.spec
        if stabilized > current:
            limit = max(scale_up_limit(current, self.scale_up_events, self.scale_down_events, up, now), current)
            if spec.max_replicas > limit:
                maximum, reason = limit, "ScaleUpLimit"
            else:
                maximum, reason = spec.max_replicas, "TooManyReplicas"
            if stabilized > maximum:
                return maximum, reason
        elif stabilized < current:
            limit = min(scale_down_limit(current, self.scale_up_events, self.scale_down_events, down, now), current)
            if spec.min_replicas < limit:
                minimum, reason = limit, "ScaleDownLimit"
            else:
                minimum, reason = spec.min_replicas, "TooFewReplicas"
            if stabilized < minimum:
                return minimum, reason
        return stabilized, None


# ----------------------------------------------------------------------------------------------------
# Load model and the time-stepped simulation
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Utilization:
    """Every ready pod runs at ``percent`` of its CPU request, however many pods there are."""

    percent: float

    def __post_init__(self) -> None:
        if self.percent < 0:
            raise ValueError(f"utilization must be >= 0, got {self.percent}")


@dataclass(frozen=True)
class Demand:
    """Total CPU demand in "pods at 100% of request", shared evenly by the ready pods.

    Utilization is then ``pods / ready_replicas * 100``: adding replicas lowers it, which is what lets the HPA
    converge. Demand 3.5 with a 1000m request is 3500m in total.
    """

    pods: float

    def __post_init__(self) -> None:
        if self.pods < 0:
            raise ValueError(f"demand must be >= 0, got {self.pods}")


@dataclass(frozen=True)
class Recommendation:
    """Bypass the calculator: the metrics recommend exactly ``replicas`` (for testing normalisation alone)."""

    replicas: int


Load: TypeAlias = Utilization | Demand | Recommendation
LoadMode = Literal["utilization", "demand"]
LoadInput: TypeAlias = Callable[[float], Load | float] | Sequence[tuple[float, Load | float]]


def _as_load(value: Load | float, mode: LoadMode | None) -> Load:
    if isinstance(value, Utilization | Demand | Recommendation):
        return value
    if mode is None:
        raise ValueError("a bare number as load needs mode='utilization' or mode='demand'")
    return Utilization(float(value)) if mode == "utilization" else Demand(float(value))


def _phase_lookup(
    phases: Sequence[tuple[float, Load | float]],
) -> tuple[Callable[[float], Load | float], float]:
    """A load function over consecutive phases [start, start + duration), and the total duration."""
    bounds: list[tuple[float, Load | float]] = []
    end = 0.0
    for duration, load in phases:
        if duration <= 0:
            raise ValueError(f"phase duration must be > 0, got {duration}")
        end += duration
        bounds.append((end, load))

    def at(t: float) -> Load | float:
        return next(load for phase_end, load in bounds if t < phase_end)

    return at, end


def _pod_usages(load: Utilization | Demand, ready: int, request_milli: int) -> list[int]:
    """Integer millicores per ready pod, as metrics-server reports them; the total is preserved exactly."""
    if isinstance(load, Utilization):
        return [round(load.percent * request_milli / 100)] * ready
    total = round(load.pods * request_milli)
    base, extra = divmod(total, ready)
    return [base + (1 if i < extra else 0) for i in range(ready)]


def _observe(
    load: Load, pod_starts: Sequence[float], now: float, request_milli: int, startup_s: float
) -> tuple[list[PodMetrics], Recommendation | None]:
    if isinstance(load, Recommendation):
        return [], load
    ready_flags = [now - start >= startup_s for start in pod_starts]
    usages = iter(_pod_usages(load, sum(ready_flags), request_milli)) if any(ready_flags) else iter(())
    # Unready pods serve no traffic; their (zero) samples are set aside by the calculator anyway.
    pods = [PodMetrics(next(usages) if ok else 0, request_milli, ready=ok) for ok in ready_flags]
    return pods, None


def simulate(
    spec: HpaSpec,
    initial_replicas: int,
    load: LoadInput,
    *,
    duration_s: float | None = None,
    sync_period_s: float = DEFAULT_SYNC_PERIOD_S,
    mode: LoadMode | None = None,
    cpu_request_milli: int = DEFAULT_CPU_REQUEST_MILLI,
    pod_startup_s: float = 0.0,
) -> list[Step]:
    """Run the controller every ``sync_period_s`` seconds from t=0 while t < duration.

    ``load`` is either a function of time or consecutive ``(duration_s, load)`` phases; a load is a
    ``Utilization``, a ``Demand`` or a ``Recommendation`` (bare numbers need ``mode``). Scaling takes effect
    immediately; new pods are unready for ``pod_startup_s`` seconds (the initial pods are ready), and a
    scale-down removes the newest pods first, as a ReplicaSet prefers. Returns one Step per sync.
    """
    if initial_replicas < 0:
        raise ValueError(f"initial replicas must be >= 0, got {initial_replicas}")
    if sync_period_s <= 0:
        raise ValueError(f"sync period must be > 0, got {sync_period_s}")
    if callable(load):
        if duration_s is None:
            raise ValueError("duration_s is required when load is a function of time")
        load_at, end = load, duration_s
    else:
        load_at, end = _phase_lookup(load)
        end = end if duration_s is None else min(end, duration_s)

    controller = HorizontalController(spec)
    tolerances = spec.tolerances()
    pod_starts: list[float] = [-math.inf] * initial_replicas
    steps: list[Step] = []
    k = 0
    while (now := k * sync_period_s) < end:
        current_load = _as_load(load_at(now), mode)
        pods, fixed = _observe(current_load, pod_starts, now, cpu_request_milli, pod_startup_s)
        proposal, utilization = _propose(len(pod_starts), pods, fixed, spec, tolerances)
        step = controller.reconcile(now, len(pod_starts), proposal, utilization)
        steps.append(step)
        _resize(pod_starts, step.replicas, now)
        k += 1
    return steps


def _propose(
    current: int,
    pods: Sequence[PodMetrics],
    fixed: Recommendation | None,
    spec: HpaSpec,
    tolerances: Tolerances,
) -> tuple[int | None, int | None]:
    if fixed is not None:
        return fixed.replicas, None
    try:
        proposal = utilization_replicas(current, pods, spec.target_cpu_utilization, tolerances)
    except MetricsUnavailableError:
        return None, None
    return proposal.replicas, proposal.current


def _resize(pod_starts: list[float], replicas: int, now: float) -> None:
    if replicas > len(pod_starts):
        pod_starts.extend([now] * (replicas - len(pod_starts)))
    else:
        del pod_starts[replicas:]  # newest last, so the newest go first


def replica_series(steps: Sequence[Step]) -> list[int]:
    """Replica counts after each sync."""
    return [s.replicas for s in steps]


def distinct_counts(steps: Sequence[Step], initial: int) -> list[int]:
    """The successive different replica counts, starting from ``initial``."""
    counts = [initial]
    for step in steps:
        if step.replicas != counts[-1]:
            counts.append(step.replicas)
    return counts
