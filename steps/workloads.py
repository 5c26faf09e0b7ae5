"""Steps about Kubernetes workloads: pod security, probes and resources, network policies, autoscaling."""
