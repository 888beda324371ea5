"""deploy/helm/safeguarding-broker: `helm lint`, `helm template`, and every rendered manifest
validated against Kubernetes' own JSON Schemas (the kubernetes-validate package's, strict: an
unknown field is an error), then the properties the chart promises.

Needs the `helm` binary (SGB_HELM or on PATH; `.ci/run` installs it from the Go module proxy).
Without it these tests skip, except under CI, where they fail.
"""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).parents[2] / "deploy" / "helm" / "safeguarding-broker"
KUBERNETES_VERSION = "1.31.0"
COMPONENTS = {"gateway", "inbox", "admin", "router", "delivery"}
APIS = {"gateway", "inbox", "admin"}


def helm() -> str:
    found = os.environ.get("SGB_HELM") or shutil.which("helm")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("helm is not installed (.ci/run installs it)")
        pytest.skip("helm is not installed")
    return found


def run_helm(*args: str) -> str:
    done = subprocess.run([helm(), *args], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def rendered(*sets: str) -> list[dict[str, Any]]:
    options = [f"--set={s}" for s in sets]
    text = run_helm("template", "sgb", str(CHART), "--namespace", "safeguarding", *options)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def component(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


def pod_specs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    workloads = [*of_kind(docs, "Deployment").values(), *of_kind(docs, "Job").values()]
    return [w["spec"]["template"]["spec"] for w in workloads]


class TestChartIsValid:
    def test_helm_lint_passes(self) -> None:
        """`helm lint --strict` finds nothing, warnings included."""
        run_helm("lint", "--strict", str(CHART))

    @pytest.mark.parametrize("sets", [(), ("keys.init=false", "networkPolicy.enabled=false")])
    def test_every_manifest_matches_the_kubernetes_schema(self, sets: tuple[str, ...]) -> None:
        """Each rendered object validates, strictly, against Kubernetes 1.31's schemas."""
        for doc in rendered(*sets):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)

    def test_the_schema_check_has_teeth(self) -> None:
        """A misspelt field in a rendered Deployment is refused."""
        deployment = next(iter(of_kind(rendered(), "Deployment").values()))
        deployment["spec"]["replica"] = 2
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


class TestWorkloads:
    def test_a_deployment_per_service(self) -> None:
        """Gateway, inbox, admin, router and delivery each run; the APIs have a Service."""
        docs = rendered()
        assert {component(d) for d in of_kind(docs, "Deployment").values()} == COMPONENTS
        assert {component(d) for d in of_kind(docs, "Service").values()} == APIS

    def test_keys_init_and_db_upgrade_are_hook_jobs_in_order(self) -> None:
        """Keys first, then the schema, both before the services are installed or upgraded."""
        jobs = {component(j): j for j in of_kind(rendered(), "Job").values()}
        weights = {}
        for name in ("keys-init", "db-upgrade"):
            annotations = jobs[name]["metadata"]["annotations"]
            assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
            weights[name] = int(annotations["helm.sh/hook-weight"])
        assert weights["keys-init"] < weights["db-upgrade"]

    def test_keys_init_job_can_be_left_out(self) -> None:
        """With keys the operator stored in the Secret, no job makes any."""
        jobs = {component(j) for j in of_kind(rendered("keys.init=false"), "Job").values()}
        assert jobs == {"db-upgrade"}

    def test_settings_come_from_the_configmap(self) -> None:
        """The ConfigMap carries the settings, including the ops port every probe uses."""
        (config,) = of_kind(rendered(), "ConfigMap").values()
        assert config["data"]["SGB_OPS_PORT"] == "9100"
        assert config["data"]["SGB_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"

    @pytest.mark.parametrize("name", sorted(COMPONENTS))
    def test_probes_ask_the_ops_port(self, name: str) -> None:
        """Liveness is /health, readiness /ready, both on the ops port, never the API's."""
        deployments = {component(d): d for d in of_kind(rendered(), "Deployment").values()}
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "ops"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "ops"}
        assert container["resources"]["limits"]["memory"]


class TestSecurity:
    def test_no_secret_is_rendered(self) -> None:
        """Keys and the database password live in Secrets the chart only reads."""
        docs = rendered()
        assert of_kind(docs, "Secret") == {}
        text = yaml.safe_dump_all(docs)
        assert "PRIVATE KEY" not in text
        assert "postgresql+asyncpg://" not in text

    def test_pods_meet_the_restricted_pod_security_standard(self) -> None:
        """No root, no privilege escalation, no capabilities, a read-only root filesystem."""
        for spec in pod_specs(rendered()):
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                security = container["securityContext"]
                assert security["readOnlyRootFilesystem"] is True
                assert security["allowPrivilegeEscalation"] is False
                assert security["capabilities"] == {"drop": ["ALL"]}

    def test_keys_are_mounted_read_only(self) -> None:
        """Every broker process reads its keys from the Secret and can change none."""
        for deployment in of_kind(rendered(), "Deployment").values():
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            mounts = {m["name"]: m for m in container["volumeMounts"]}
            assert mounts["keys"]["readOnly"] is True

    def test_network_policy_admits_only_the_api_and_ops_ports(self) -> None:
        """Ingress to the broker's pods is limited to the named ports."""
        (policy,) = of_kind(rendered(), "NetworkPolicy").values()
        ports = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
        assert sorted(ports) == ["http", "ops"]
        assert policy["spec"]["policyTypes"] == ["Ingress"]
