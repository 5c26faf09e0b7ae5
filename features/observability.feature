@seed:monitoring-observability
Feature: Observability: metrics, dashboards, logs and traces are wired in
  Every service is scraped by Prometheus, the seed's five Grafana dashboards ship with the platform, container logs
  go to CloudWatch (Container Insights log groups that Terraform creates), trace segments go to an X-Ray daemon on
  every node, and metrics-server serves the resource metrics the autoscalers read.

  Background:
    Given the Kubernetes manifests of the environment

  @REQ-OBS-001 @seed:monitoring-observability
  Scenario: Prometheus scrapes every service
    Then every service has a ServiceMonitor selecting its Service and scraping a port the Service declares

  @REQ-OBS-002 @seed:pre-configured-dashboards
  Scenario: The five pre-configured dashboards are present and valid
    Then every reference dashboard is a ConfigMap labelled grafana_dashboard=1 holding valid Grafana JSON whose panels query Prometheus

  @REQ-OBS-003 @seed:cloudwatch-container-insights
  Scenario: Fluent Bit ships container logs to CloudWatch
    Then a Fluent Bit DaemonSet ships container logs to the CloudWatch log groups of this cluster

  @REQ-OBS-004 @seed:tracing-with-x-ray
  Scenario: The X-Ray daemon runs on every node
    Then the X-Ray daemon runs as a DaemonSet receiving trace segments on port 2000/UDP

  @REQ-OBS-005 @seed:platform-services
  Scenario: metrics-server feeds the autoscalers
    Then metrics-server runs and serves the metrics.k8s.io API the HPAs read
