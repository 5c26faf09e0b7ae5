"""The HPA simulator against the Kubernetes documentation's worked examples and upstream's own test cases.

Sources cited below:
  DOCS   https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/
         (kubernetes/website content/en/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale.md)
  CALC   kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator_test.go
  CTRL   kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go
  DEFS   kubernetes/kubernetes pkg/apis/autoscaling/v2/defaults.go
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.hpa import (
    Behavior,
    Demand,
    HorizontalController,
    HpaSpec,
    PodMetrics,
    PolicyType,
    Recommendation,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
    Step,
    Tolerances,
    Utilization,
    average_value_replicas,
    combine_metric_proposals,
    distinct_counts,
    legacy_scale_up_limit,
    replica_series,
    simulate,
    utilization_replicas,
)

PODS = PolicyType.PODS
PERCENT = PolicyType.PERCENT


def changes(steps: list[Step]) -> list[tuple[float, int]]:
    """(time, new count) of every sync that changed the replica count."""
    return [(s.t, s.replicas) for s in steps if s.replicas != s.previous]


# ----------------------------------------------------------------------------------------------------------------
# DOCS, "Algorithm details"
# ----------------------------------------------------------------------------------------------------------------


def test_algorithm_details_200m_of_100m_doubles_the_replicas() -> None:
    # DOCS "Algorithm details": current 200m, desired 100m -> "the number of replicas will be doubled".
    pods = [PodMetrics(200)] * 3
    assert average_value_replicas(3, pods, target_average_milli=100).replicas == 6


def test_algorithm_details_50m_of_100m_halves_the_replicas() -> None:
    # DOCS "Algorithm details": current 50m, desired 100m -> "you'll halve the number of replicas".
    pods = [PodMetrics(50)] * 4
    assert average_value_replicas(4, pods, target_average_milli=100).replicas == 2


def test_algorithm_details_same_ratio_on_a_utilization_target() -> None:
    # DOCS "Algorithm details" applied to averageUtilization: 200% of a 100% target doubles, 50% halves.
    assert utilization_replicas(3, [PodMetrics(2000)] * 3, target_utilization=100).replicas == 6
    assert utilization_replicas(4, [PodMetrics(500)] * 4, target_utilization=100).replicas == 2


@pytest.mark.parametrize(("usage", "expected"), [(110, 10), (90, 10), (111, 12), (89, 9)])
def test_default_tolerance_skips_ratios_within_ten_percent(usage: int, expected: int) -> None:
    # DOCS "Algorithm details": "skips any scaling action if the ratio is sufficiently close to 1.0 (within a
    # configurable tolerance, 0.1 by default)". Both bounds are inclusive (Tolerances.isWithin).
    pods = [PodMetrics(usage)] * 10
    assert average_value_replicas(10, pods, target_average_milli=100).replicas == expected


def test_configurable_scale_up_tolerance_of_five_percent() -> None:
    # DOCS "Tolerance": target 100MiB, scaleUp tolerance 0.05 -> scale up only above 105MiB.
    mib = 1024 * 1024 * 1000  # milli-bytes
    tolerances = Tolerances(scale_down=0.1, scale_up=0.05)
    at_105 = [PodMetrics(105 * mib)] * 10
    assert average_value_replicas(10, at_105, 100 * mib, tolerances, resource="memory").replicas == 10
    at_106 = [PodMetrics(106 * mib)] * 10
    assert average_value_replicas(10, at_106, 100 * mib, tolerances, resource="memory").replicas == 11
    # Scale-down keeps the default 10% band: 95MiB is not enough to remove a pod.
    at_95 = [PodMetrics(95 * mib)] * 10
    assert average_value_replicas(10, at_95, 100 * mib, tolerances, resource="memory").replicas == 10


def test_multiple_metrics_take_the_largest_proposal() -> None:
    # DOCS "Algorithm details": "this calculation is done for each metric, and then the largest of the desired
    # replica counts is chosen"; and if a metric fails while the others suggest a scale down, scaling is skipped.
    assert combine_metric_proposals([3, 7, 5], spec_replicas=4) == 7
    assert combine_metric_proposals([None, 6], spec_replicas=4) == 6
    assert combine_metric_proposals([None, 2], spec_replicas=4) is None
    assert combine_metric_proposals([None, None], spec_replicas=4) is None


def test_missing_metrics_damp_a_scale_up_and_a_scale_down() -> None:
    # DOCS "Algorithm details": missing pods are assumed at "100% of the desired value in case of a scale down,
    # and 0% in case of a scale up".
    up = [PodMetrics(1000), PodMetrics(1000), PodMetrics(None)]  # 200% of a 50% target, one pod unseen
    assert utilization_replicas(3, up, 50).replicas == 4  # 2000m / 3000m = 66% -> ceil(1.32 * 3)
    down = [PodMetrics(100), PodMetrics(100), PodMetrics(100), PodMetrics(None)]  # 10% of a 50% target
    assert utilization_replicas(4, down, 50).replicas == 3  # 1300m / 4000m = 32% -> ceil(0.64 * 4), not 1
    # If the fill-in flips the direction, nothing happens: 2200m / 4000m = 55% is above the 50% target.
    flips = [PodMetrics(100), PodMetrics(100), PodMetrics(None), PodMetrics(None)]
    assert utilization_replicas(4, flips, 50).replicas == 4


# ----------------------------------------------------------------------------------------------------------------
# CALC: upstream replica calculator cases, one pod per (request, level); None level = missing metrics
# ----------------------------------------------------------------------------------------------------------------

CALC_CASES: list[tuple[str, int, list[int], list[int | None], list[bool], int, int, int]] = [
    # name, current, requests (m), levels (m), ready, target %, expected replicas, expected utilization
    ("TestReplicaCalcScaleUp", 3, [1000] * 3, [300, 500, 700], [True] * 3, 30, 5, 50),
    ("TestReplicaCalcScaleUpUnreadyLessScale", 3, [1000] * 3, [300, 500, 700], [False, True, True], 30, 4, 60),
    ("TestReplicaCalcScaleUpUnreadyNoScale", 3, [1000] * 3, [400, 500, 700], [True, False, False], 30, 3, 40),
    ("TestReplicaCalcScaleDown", 5, [1000] * 5, [100, 300, 500, 250, 250], [True] * 5, 50, 3, 28),
    (
        "TestReplicaCalcScaleDownIgnoresUnreadyPods",
        5,
        [1000] * 5,
        [100, 300, 500, 250, 250],
        [True, True, True, False, False],
        50,
        2,
        30,
    ),
    ("TestReplicaCalcTolerance", 3, [900, 1000, 1100], [1010, 1030, 1020], [True] * 3, 100, 3, 102),
    ("TestReplicaCalcMissingMetrics", 4, [1000] * 4, [400, 95, None, None], [True] * 4, 100, 3, 24),
    ("TestReplicaCalcMissingMetricsNoChangeEq", 2, [1000] * 2, [1000, None], [True] * 2, 100, 2, 100),
    ("TestReplicaCalcMissingMetricsNoChangeGt", 2, [1000] * 2, [1900, None], [True] * 2, 100, 2, 190),
    ("TestReplicaCalcMissingMetricsNoChangeLt", 2, [1000] * 2, [600, None], [True] * 2, 100, 2, 60),
    (
        "TestReplicaCalcMissingMetricsUnreadyNoChange",
        3,
        [1000] * 3,
        [100, 450, None],
        [False, True, True],
        50,
        3,
        45,
    ),
    (
        "TestReplicaCalcMissingMetricsUnreadyScaleUp",
        3,
        [1000] * 3,
        [100, 2000, None],
        [False, True, True],
        50,
        4,
        200,
    ),
    (
        "TestReplicaCalcMissingMetricsUnreadyScaleDown",
        4,
        [1000] * 4,
        [100, 100, 100, None],
        [False, True, True, True],
        50,
        3,
        10,
    ),
]


@pytest.mark.parametrize(
    ("current", "requests", "levels", "ready", "target", "expected", "utilization"),
    [case[1:] for case in CALC_CASES],
    ids=[case[0] for case in CALC_CASES],
)
def test_upstream_replica_calculator_cases(
    current: int,
    requests: list[int],
    levels: list[int | None],
    ready: list[bool],
    target: int,
    expected: int,
    utilization: int,
) -> None:
    # CALC: same inputs and expectations as the named upstream test (CPU, Utilization target).
    pods = [PodMetrics(level, request, ready=ok) for request, level, ok in zip(requests, levels, ready, strict=True)]
    proposal = utilization_replicas(current, pods, target)
    assert (proposal.replicas, proposal.current) == (expected, utilization)


@pytest.mark.parametrize(
    ("levels", "target", "current", "expected"),
    [
        ([20000, 10000, 30000], 15000, 3, 4),  # CALC TestReplicaCalcScaleUpCM
        ([12000] * 5, 20000, 5, 3),  # CALC TestReplicaCalcScaleDownCM
        ([20000, 21000, 21000], 20000, 3, 3),  # CALC TestReplicaCalcToleranceCM
    ],
)
def test_upstream_custom_metric_cases(levels: list[int], target: int, current: int, expected: int) -> None:
    pods = [PodMetrics(level) for level in levels]
    assert average_value_replicas(current, pods, target, resource="").replicas == expected


# ----------------------------------------------------------------------------------------------------------------
# DOCS, "Configurable scaling behavior"
# ----------------------------------------------------------------------------------------------------------------


def scale_down_only(rules: ScalingRules, current: int = 80, target: int = 10, minutes: int = 30) -> list[Step]:
    spec = HpaSpec(1, 100, 50, Behavior(scale_down=rules))
    return simulate(spec, current, [(minutes * 60, Recommendation(target))])


def test_scale_down_policies_pods_4_and_percent_10_per_minute() -> None:
    # DOCS "Scaling policies": policies Pods 4/60s and Percent 10/60s, default selectPolicy (Max change).
    # "if there are 80 replicas and the target has to be scaled down to 10 replicas then during the first step
    # 8 replicas will be reduced. In the next iteration when the number of replicas is 72, 10% of the pods is
    # 7.2 but the number is rounded up to 8. ... When the number of replicas falls below 40 the first policy
    # (Pods) is applied and 4 replicas will be reduced at a time."
    rules = ScalingRules(policies=(ScalingPolicy(PODS, 4, 60), ScalingPolicy(PERCENT, 10, 60)))
    steps = scale_down_only(rules)
    counts = distinct_counts(steps, 80)
    assert counts[:3] == [80, 72, 64]
    assert counts == [80, 72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10]
    below_40 = counts[counts.index(40) :]
    assert all(a - b == 4 for a, b in pairwise(below_40[:-1]))
    # One step per periodSeconds: the default 300s stabilization window first, then every 60s.
    times = [t for t, _ in changes(steps)]
    assert times[0] == 300
    assert all(b - a == 60 for a, b in pairwise(times))


def test_limit_scale_down_rate_to_ten_percent_per_minute() -> None:
    # DOCS "Example: limit scale down rate": Percent 10 per 60s. int32() truncation keeps the floor.
    rules = ScalingRules(policies=(ScalingPolicy(PERCENT, 10, 60),), stabilization_window_seconds=0)
    counts = distinct_counts(scale_down_only(rules, current=100), 100)
    assert counts == [100, 90, 81, 72, 64, 57, 51, 45, 40, 36, 32, 28, 25, 22, 19, 17, 15, 13, 11, 10]


def test_select_policy_min_removes_no_more_than_five_pods_per_minute() -> None:
    # DOCS "Example: limit scale down rate": Percent 10/60s plus Pods 5/60s with selectPolicy Min -> "the
    # autoscaler chooses the policy that affects the smallest number of Pods".
    rules = ScalingRules(
        policies=(ScalingPolicy(PERCENT, 10, 60), ScalingPolicy(PODS, 5, 60)),
        select_policy=SelectPolicy.MIN,
        stabilization_window_seconds=0,
    )
    counts = distinct_counts(scale_down_only(rules, current=100, minutes=60), 100)
    removed = [a - b for a, b in pairwise(counts)]
    assert max(removed) == 5
    assert counts[:4] == [100, 95, 90, 85]
    assert counts[counts.index(40) + 1] == 36  # 10% of 40 is 4 < 5: the smaller change wins
    assert counts[-1] == 10


def test_stabilization_window_300s_applies_the_rolling_maximum() -> None:
    # DOCS "Stabilization window": scaleDown stabilizationWindowSeconds 300 -> "all desired states from the past
    # 5 minutes will be considered", "the highest value from the specified interval".
    spec = HpaSpec(1, 20, 50, Behavior(scale_down=ScalingRules(stabilization_window_seconds=300)))
    load = [(60, Recommendation(10)), (60, Recommendation(4)), (60, Recommendation(7)), (600, Recommendation(2))]
    steps = simulate(spec, 10, load)
    # Last recommendation of 10 at t=45 leaves the window at t=345; the last 7 (t=165) leaves at t=465.
    assert changes(steps) == [(345, 7), (465, 2)]
    for step in steps:
        window = [s.desired for s in steps if step.t - 300 < s.t <= step.t and s.desired is not None]
        assert step.replicas == max([10, *window] if step.t < 300 else window)


def test_change_downscale_stabilization_window_to_one_minute() -> None:
    # DOCS "Example: change downscale stabilization window": stabilizationWindowSeconds 60.
    spec = HpaSpec(1, 20, 50, Behavior(scale_down=ScalingRules(stabilization_window_seconds=60)))
    steps = simulate(spec, 10, [(600, Recommendation(3))])
    assert changes(steps) == [(60, 3)]


def test_select_policy_disabled_turns_off_scale_down() -> None:
    # DOCS "Example: disable scale down": scaleDown selectPolicy Disabled.
    spec = HpaSpec(1, 20, 50, Behavior(scale_down=ScalingRules(select_policy=SelectPolicy.DISABLED)))
    steps = simulate(spec, 8, [(900, Demand(0.0)), (120, Demand(20.0))])
    assert set(replica_series(steps[:60])) == {8}
    assert steps[-1].replicas == 20  # scale-up still works


def test_default_behavior_adds_4_pods_or_100_percent_every_15s() -> None:
    # DOCS "Default behavior" / DEFS: scaleUp Pods 4 and Percent 100 per 15s, selectPolicy Max, no window.
    spec = HpaSpec(1, 100, 50, Behavior())
    assert distinct_counts(simulate(spec, 1, [(120, Recommendation(100))]), 1) == [1, 5, 10, 20, 40, 80, 100]
    assert distinct_counts(simulate(spec, 3, [(120, Recommendation(40))]), 3) == [3, 7, 14, 28, 40]


def test_default_behavior_scale_down_waits_300s_then_goes_straight_to_the_recommendation() -> None:
    # DOCS "Default behavior": scaleDown window 300s and "100% of the currently running replicas to be removed
    # which means the scaling target can be scaled down to the minimum allowed replicas".
    spec = HpaSpec(2, 100, 50, Behavior())
    assert changes(simulate(spec, 40, [(600, Recommendation(1))])) == [(300, 2)]


def test_scale_up_within_a_period_counts_earlier_additions() -> None:
    # CTRL calculateScaleUpLimitWithScalingRules: periodStartReplicas = current - added in the period.
    spec = HpaSpec(1, 100, 50, Behavior(scale_up=ScalingRules(policies=(ScalingPolicy(PODS, 2, 60),))))
    assert changes(simulate(spec, 1, [(180, Recommendation(10))])) == [(0, 3), (60, 5), (120, 7)]


# ----------------------------------------------------------------------------------------------------------------
# CTRL, legacy path (spec.behavior nil) and clamps
# ----------------------------------------------------------------------------------------------------------------


def test_legacy_scale_up_limit_is_twice_current_or_four() -> None:
    # CTRL: scaleUpLimitFactor = 2.0, scaleUpLimitMinimum = 4.0.
    assert [legacy_scale_up_limit(n) for n in (0, 1, 2, 3, 10)] == [4, 4, 4, 6, 20]
    steps = simulate(HpaSpec(1, 40, 50), 3, [(120, Recommendation(40))])
    assert distinct_counts(steps, 3) == [3, 6, 12, 24, 40]
    assert [s.reason for s in steps[:3]] == ["ScaleUpLimit"] * 3
    assert steps[3].reason == "DesiredWithinRange"


def test_legacy_downscale_stabilization_keeps_the_highest_recommendation_for_300s() -> None:
    # DOCS "Algorithm details", last paragraph; CTRL stabilizeRecommendation. The legacy cutoff test is
    # Before(cutoff), so the sample exactly 300s old still counts and the drop lands one sync later than on the
    # behavior path (whose test is After(cutoff)).
    steps = simulate(HpaSpec(1, 20, 50), 10, [(600, Recommendation(3))])
    assert changes(steps) == [(315, 3)]
    assert {s.reason for s in steps if s.t < 315} == {"ScaleDownStabilized"}


def test_clamps_to_min_and_max() -> None:
    spec = HpaSpec(2, 6, 50, Behavior())
    assert max(replica_series(simulate(spec, 2, [(600, Demand(100.0))]))) == 6
    assert min(replica_series(simulate(spec, 6, [(900, Demand(0.0))]))) == 2
    # CTRL: a target already outside the bounds is brought back first, without consulting metrics.
    assert simulate(spec, 9, [(15, Demand(100.0))])[0].replicas == 6
    assert simulate(spec, 1, [(15, Demand(0.0))])[0].replicas == 2


def test_zero_replicas_means_autoscaling_is_disabled() -> None:
    # DOCS "Implicit maintenance-mode deactivation".
    steps = simulate(HpaSpec(1, 5, 50), 0, [(120, Demand(10.0))])
    assert replica_series(steps) == [0] * 8
    assert {s.reason for s in steps} == {"ScalingDisabled"}


def test_controller_can_be_driven_directly() -> None:
    controller = HorizontalController(HpaSpec(1, 10, 50, Behavior()))
    assert controller.reconcile(0, 2, 9).replicas == 6  # max(2 + 4, 2 * 2)
    assert controller.reconcile(15, 6, None).reason == "FailedComputeMetricsReplicas"


# ----------------------------------------------------------------------------------------------------------------
# Scenario-style runs: "CPU at X% of target for N minutes"
# ----------------------------------------------------------------------------------------------------------------


def test_cpu_at_twice_target_scales_up_then_holds_for_the_stabilization_window() -> None:
    spec = HpaSpec(2, 10, 60, Behavior(scale_down=ScalingRules(stabilization_window_seconds=300)))
    # 2 pods at 120% of request = demand 2.4 pods; ten minutes, then demand falls to a third of a pod.
    steps = simulate(spec, 2, [(600, Demand(2.4)), (900, Demand(0.3))])
    busy, quiet = steps[:40], steps[40:]
    assert busy[0].utilization == 120
    assert busy[-1].replicas == 4  # 240% of request over 4 pods is 60%: exactly on target
    assert max(replica_series(steps)) <= spec.max_replicas
    # The window counts from the last high recommendation (the last busy sync at t=585), not from t=600.
    first_drop = next(s.t for s in quiet if s.replicas < s.previous)
    assert first_drop == busy[-1].t + 300
    assert all(s.replicas == 4 for s in quiet if s.t < first_drop)
    assert quiet[-1].replicas == spec.min_replicas


def test_fixed_utilization_keeps_scaling_up_to_max() -> None:
    # In utilization mode the load grows with the replicas, so only maxReplicas stops it.
    steps = simulate(HpaSpec(1, 7, 50, Behavior()), 1, [(300, 75.0)], mode="utilization")
    assert steps[-1].replicas == 7
    assert all(s.utilization == 75 for s in steps)


def test_unready_new_pods_are_handled_deterministically() -> None:
    spec = HpaSpec(2, 20, 100, Behavior())
    runs = [simulate(spec, 2, [(300, Demand(8.0))], pod_startup_s=45) for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0][-1].replicas == 8


def test_bare_numbers_need_an_explicit_load_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        simulate(HpaSpec(1, 5, 50), 1, [(60, 50.0)])


def test_load_as_a_function_of_time() -> None:
    steps = simulate(HpaSpec(1, 10, 50), 2, lambda t: Demand(4.0 if t < 120 else 1.0), duration_s=240)
    assert len(steps) == 16
    assert steps[0].replicas == 4


# ----------------------------------------------------------------------------------------------------------------
# HpaSpec.from_manifest
# ----------------------------------------------------------------------------------------------------------------


def manifest(**spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "catalog"},
        "minReplicas": 2,
        "maxReplicas": 10,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
            }
        ],
        "behavior": {
            "scaleDown": {
                "stabilizationWindowSeconds": 300,
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}],
                "selectPolicy": "Max",
            }
        },
    }
    spec.update(spec_overrides)
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"}, "spec": spec}


def test_from_manifest_reads_bounds_target_and_behavior() -> None:
    spec = HpaSpec.from_manifest(manifest())
    assert (spec.min_replicas, spec.max_replicas, spec.target_cpu_utilization) == (2, 10, 70)
    assert spec.behavior is not None
    up, down = spec.behavior.resolve(spec.downscale_stabilization_s)
    # DEFS: the unwritten scaleUp direction gets the defaults.
    assert up.policies == (ScalingPolicy(PODS, 4, 15), ScalingPolicy(PERCENT, 100, 15))
    assert (up.select_policy, up.stabilization_window_seconds) == (SelectPolicy.MAX, 0)
    assert down.policies == (ScalingPolicy(PODS, 4, 60),)


def test_from_manifest_defaults_min_replicas_and_the_scale_down_window() -> None:
    raw = manifest(behavior={"scaleDown": {"policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}})
    del raw["spec"]["minReplicas"]
    spec = HpaSpec.from_manifest(raw)
    assert spec.min_replicas == 1
    assert spec.behavior is not None
    assert spec.behavior.resolve(300)[1].stabilization_window_seconds == 300  # filled by the controller flag


def test_from_manifest_reads_tolerance_quantities() -> None:
    spec = HpaSpec.from_manifest(manifest(behavior={"scaleUp": {"tolerance": "50m"}, "scaleDown": {"tolerance": 0.2}}))
    assert spec.tolerances() == Tolerances(scale_down=0.2, scale_up=0.05)


def test_from_manifest_records_metrics_it_cannot_simulate() -> None:
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
    raw = manifest()
    raw["spec"]["metrics"].append(memory)
    assert HpaSpec.from_manifest(raw).ignored_metrics == ("Resource:memory",)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m.update(apiVersion="autoscaling/v1"), "apiVersion"),
        (lambda m: m.update(kind="Deployment"), "kind"),
        (lambda m: m.pop("spec"), "spec"),
        (lambda m: m["spec"].pop("maxReplicas"), "spec.maxReplicas"),
        (lambda m: m["spec"].update(maxReplicas="ten"), "spec.maxReplicas"),
        (lambda m: m["spec"].update(minReplicas=20), "spec.minReplicas"),
        (lambda m: m["spec"].pop("metrics"), "spec.metrics"),
        (lambda m: m["spec"]["metrics"][0]["resource"].update(name="memory"), "spec.metrics"),
        (
            lambda m: m["spec"]["metrics"][0]["resource"]["target"].update(type="AverageValue"),
            "spec.metrics[0].resource.target.type",
        ),
        (
            lambda m: m["spec"]["metrics"][0]["resource"]["target"].pop("averageUtilization"),
            "spec.metrics[0].resource.target.averageUtilization",
        ),
        (
            lambda m: m["spec"]["behavior"]["scaleDown"]["policies"][0].update(type="Replicas"),
            "spec.behavior.scaleDown.policies[0].type",
        ),
        (
            lambda m: m["spec"]["behavior"]["scaleDown"]["policies"][0].update(periodSeconds=0),
            "spec.behavior.scaleDown.policies[0].periodSeconds",
        ),
        (
            lambda m: m["spec"]["behavior"]["scaleDown"]["policies"][0].update(periodSeconds=1801),
            "spec.behavior.scaleDown.policies[0].periodSeconds",
        ),
        (lambda m: m["spec"]["behavior"]["scaleDown"].update(policies=[]), "spec.behavior.scaleDown.policies"),
        (
            lambda m: m["spec"]["behavior"]["scaleDown"].update(selectPolicy="Most"),
            "spec.behavior.scaleDown.selectPolicy",
        ),
        (
            lambda m: m["spec"]["behavior"]["scaleDown"].update(stabilizationWindowSeconds=-1),
            "spec.behavior.scaleDown.stabilizationWindowSeconds",
        ),
        (lambda m: m["spec"]["behavior"].update(scaleUp={"tolerance": "lots"}), "spec.behavior.scaleUp.tolerance"),
    ],
)
def test_from_manifest_names_the_bad_field(mutate: Any, field: str) -> None:
    raw = manifest()
    mutate(raw)
    with pytest.raises(ValueError, match="^" + re.escape(field) + ":"):
        HpaSpec.from_manifest(raw)


def test_from_manifest_can_apply_the_api_default_cpu_target() -> None:
    raw = manifest()
    del raw["spec"]["metrics"]
    assert HpaSpec.from_manifest(raw, apply_api_default_metrics=True).target_cpu_utilization == 80


# ----------------------------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------------------------

policies = st.lists(
    st.builds(
        ScalingPolicy,
        st.sampled_from(list(PolicyType)),
        st.integers(1, 200),
        st.sampled_from([15, 30, 60, 120, 300]),
    ),
    min_size=1,
    max_size=3,
).map(tuple)
rules = st.builds(
    ScalingRules,
    st.none() | policies,
    st.none() | st.sampled_from(list(SelectPolicy)),
    st.none() | st.sampled_from([0, 15, 60, 300]),
)
behaviors = st.none() | st.builds(Behavior, st.none() | rules, st.none() | rules)
loads = st.one_of(
    st.builds(Demand, st.floats(0, 60, allow_nan=False)),
    st.builds(Utilization, st.floats(0, 400, allow_nan=False)),
)
phases = st.lists(st.tuples(st.sampled_from([15, 60, 180, 600]), loads), min_size=1, max_size=4)


@st.composite
def specs_and_start(draw: st.DrawFn, behavior: st.SearchStrategy[Behavior | None] = behaviors) -> tuple[HpaSpec, int]:
    low = draw(st.integers(1, 5))
    high = draw(st.integers(low, 30))
    spec = HpaSpec(low, high, draw(st.integers(10, 100)), draw(behavior))
    return spec, draw(st.integers(low, high))


@settings(max_examples=80, deadline=None)
@given(specs_and_start(), phases)
def test_replicas_always_within_min_and_max(spec_start: tuple[HpaSpec, int], load: Any) -> None:
    spec, start = spec_start
    for step in simulate(spec, start, load):
        assert spec.min_replicas <= step.replicas <= spec.max_replicas


disabled_down = st.builds(
    Behavior, st.none() | rules, st.builds(ScalingRules, st.none() | policies, st.just(SelectPolicy.DISABLED))
)


@settings(max_examples=60, deadline=None)
@given(specs_and_start(disabled_down), phases)
def test_disabled_scale_down_never_decreases(spec_start: tuple[HpaSpec, int], load: Any) -> None:
    spec, start = spec_start
    series = [start, *replica_series(simulate(spec, start, load))]
    assert all(a <= b for a, b in pairwise(series))


@settings(max_examples=60, deadline=None)
@given(specs_and_start(), st.booleans())
def test_constant_load_exactly_at_target_stays_put(spec_start: tuple[HpaSpec, int], as_demand: bool) -> None:
    spec, start = spec_start
    at_target = (
        Demand(start * spec.target_cpu_utilization / 100) if as_demand else Utilization(spec.target_cpu_utilization)
    )
    steps = simulate(spec, start, [(900, at_target)])
    assert replica_series(steps) == [start] * len(steps)
    assert all(s.utilization == spec.target_cpu_utilization for s in steps)
