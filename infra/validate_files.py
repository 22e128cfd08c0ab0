#!/usr/bin/env python3
"""Structural checks of the deployment files under infra/ and localstack/.

Run by infra/validate.sh; needs Python 3.9+ and PyYAML (without PyYAML only the JSON
checks run). Every file is parsed, and the files are checked against each other and
against the Silt source: the SILT_* variables they set are ones the `silt` binary
reads, the metrics the dashboard queries are ones the gateway exports, Services
select the pods they are meant to, and so on. Exits 1 if any check fails.
"""

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
LOCALSTACK = ROOT / "localstack"
COMPOSE_FILES = [INFRA / "docker-compose.yml", LOCALSTACK / "docker-compose.yml"]
K8S = INFRA / "k8s"
DASHBOARD = INFRA / "grafana" / "silt-dashboard.json"
NODE_MILLICORES = 2000  # the manifests are sized for one 2-core node

errors = []


def fail(where, message):
    errors.append(f"{where}: {message}")


def rel(path):
    return str(Path(path).relative_to(ROOT))


try:
    import yaml
except ImportError:
    yaml = None


# --- facts read from the Silt source -------------------------------------------


def silt_env_vars():
    """The SILT_* variables the binary reads (clap `env = "..."` and SILT_LOG)."""
    names = set()
    for source in (ROOT / "silt" / "src").glob("*.rs"):
        names.update(re.findall(r'"(SILT_[A-Z0-9_]+)"', source.read_text()))
    return names


def silt_subcommands():
    text = (ROOT / "silt" / "src" / "cli.rs").read_text()
    body = text.split("pub enum Command {", 1)[1].split("\n}", 1)[0]
    return {name.lower() for name in re.findall(r"^    ([A-Z]\w*)\b", body, re.M)}


def gateway_metrics():
    text = (ROOT / "gateway" / "src" / "metrics.rs").read_text()
    literals = re.findall(r'"(?:[^"\\]|\\.)*"', text)
    return {name for literal in literals for name in re.findall(r"\b(silt_[a-z_]+)", literal)}


SILT_ENV = silt_env_vars()
SUBCOMMANDS = silt_subcommands()
METRICS = gateway_metrics()
if not SILT_ENV or not {"gateway", "coordinator"} <= SUBCOMMANDS or not METRICS:
    fail("silt source", "could not read env vars, subcommands or metric names from the source")


def check_silt_env(where, names):
    for name in names:
        if name.startswith("SILT_") and name not in SILT_ENV:
            fail(where, f"{name} is not a variable the silt binary reads")


# --- every file parses ----------------------------------------------------------


def parse_all():
    docs = {}
    for base in (INFRA, LOCALSTACK):
        for path in sorted(base.rglob("*.json")):
            try:
                docs[path] = [json.loads(path.read_text())]
                print(f"  ok   JSON parses: {rel(path)}")
            except ValueError as error:
                fail(rel(path), f"invalid JSON: {error}")
        for path in sorted([*base.rglob("*.yml"), *base.rglob("*.yaml")]):
            if yaml is None:
                continue
            try:
                docs[path] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
                print(f"  ok   YAML parses: {rel(path)}")
            except yaml.YAMLError as error:
                fail(rel(path), f"invalid YAML: {error}")
    return docs


# --- docker compose -------------------------------------------------------------


def as_env(environment):
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {k: "" if v is None else str(v) for k, v in (environment or {}).items()}


def listen_port(env, default):
    return int(env.get("SILT_LISTEN", f"127.0.0.1:{default}").rsplit(":", 1)[1])


def check_compose(path, doc):
    where = rel(path)
    before = len(errors)
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        fail(where, "no services")
        return
    declared_volumes = set((doc.get("volumes") or {}).keys())
    host_ports = {}
    for name, service in services.items():
        at = f"{where}: service {name}"
        if "image" not in service and "build" not in service:
            fail(at, "has neither image nor build")
        build = service.get("build")
        if isinstance(build, dict):
            context = (path.parent / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                fail(at, f"build file {dockerfile} does not exist")
        depends = service.get("depends_on") or {}
        for dependency, spec in (depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)):
            if dependency not in services:
                fail(at, f"depends on unknown service {dependency}")
            condition = (spec or {}).get("condition", "service_started")
            if condition not in ("service_started", "service_healthy", "service_completed_successfully"):
                fail(at, f"unknown depends_on condition {condition}")
            if condition == "service_healthy" and "healthcheck" not in services.get(dependency, {}):
                fail(at, f"waits for {dependency} to be healthy, which has no healthcheck")
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                if not (path.parent / source).exists():
                    fail(at, f"bind mount source {source} does not exist")
            elif source and source not in declared_volumes:
                fail(at, f"named volume {source} is not declared")
        for port in service.get("ports") or []:
            host = str(port).rsplit(":", 1)[0]
            if host in host_ports:
                fail(at, f"host port {host} also published by {host_ports[host]}")
            host_ports[host] = name
        command = service.get("command")
        if build or str(service.get("image", "")).startswith("silt:"):
            check_silt_service(at, service, services)
        elif command is None and "entrypoint" not in service and "image" not in service:
            fail(at, "nothing to run")
    print(f"  ok   compose structure and cross-references: {where}" if len(errors) == before
          else f"  FAIL compose structure: {where}")


def check_silt_service(at, service, services):
    command = service.get("command") or []
    if not command or command[0] not in SUBCOMMANDS:
        fail(at, f"command {command} is not a silt subcommand ({sorted(SUBCOMMANDS)})")
        return
    env = as_env(service.get("environment"))
    check_silt_env(at, env)
    if not env.get("SILT_LISTEN", "").startswith("0.0.0.0:"):
        fail(at, "SILT_LISTEN must be 0.0.0.0:PORT in a container")
    test = " ".join(map(str, (service.get("healthcheck") or {}).get("test", [])))
    port = listen_port(env, 9090 if command[0] == "coordinator" else 8080)
    if f":{port}/readyz" not in test:
        fail(at, f"healthcheck does not GET /readyz on its listen port {port}: {test!r}")
    if command[0] == "gateway":
        for key in ("SILT_COORDINATOR", "SILT_OBJECT_STORE", "AWS_ENDPOINT_URL"):
            if key not in env:
                fail(at, f"gateway without {key}")
        coordinator = urlparse(env.get("SILT_COORDINATOR", ""))
        target = services.get(coordinator.hostname or "")
        if target is None:
            fail(at, f"SILT_COORDINATOR host {coordinator.hostname} is not a service here")
        elif listen_port(as_env(target.get("environment")), 9090) != coordinator.port:
            fail(at, f"SILT_COORDINATOR port {coordinator.port} is not where {coordinator.hostname} listens")
        endpoint = urlparse(env.get("AWS_ENDPOINT_URL", ""))
        if endpoint.hostname not in services:
            fail(at, f"AWS_ENDPOINT_URL host {endpoint.hostname} is not a service here")
        if endpoint.scheme == "http" and env.get("AWS_ALLOW_HTTP") != "true":
            fail(at, "http AWS_ENDPOINT_URL needs AWS_ALLOW_HTTP=true")
        if not env.get("SILT_OBJECT_STORE", "").startswith("s3://"):
            fail(at, "SILT_OBJECT_STORE is not an s3:// URL")


# --- kubernetes -----------------------------------------------------------------


def cpu_millicores(value):
    value = str(value)
    return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)


def memory_bytes(value):
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if str(value).endswith(suffix):
            return int(str(value)[: -len(suffix)]) * factor
    return int(value)


def check_k8s(docs):
    before = len(errors)
    kustomization = K8S / "kustomization.yaml"
    listed = [K8S / name for name in (docs.get(kustomization, [{}])[0].get("resources") or [])]
    on_disk = {p for p in K8S.glob("*.yaml") if p != kustomization}
    for path in listed:
        if path not in on_disk:
            fail(rel(kustomization), f"lists {path.name}, which does not exist")
    for path in sorted(on_disk - set(listed)):
        fail(rel(kustomization), f"does not list {path.name}")
    objects = []
    for path in listed:
        for doc in docs.get(path, []):
            meta = doc.get("metadata") or {}
            if not doc.get("apiVersion") or not doc.get("kind") or not meta.get("name"):
                fail(rel(path), f"object without apiVersion, kind or metadata.name: {doc}")
                continue
            objects.append((path, doc))
    by_kind = {}
    for path, doc in objects:
        key = (doc["kind"], doc["metadata"]["name"])
        if key in by_kind:
            fail(rel(path), f"duplicate {key}")
        by_kind[key] = doc
    names = lambda kind: {name for (k, name) in by_kind if k == kind}  # noqa: E731
    workloads = {key: doc for key, doc in by_kind.items() if key[0] in ("Deployment", "StatefulSet")}
    for (kind, name), doc in workloads.items():
        at = f"{kind}/{name}"
        spec = doc["spec"]
        pod = spec["template"]
        labels = pod["metadata"].get("labels") or {}
        if not set(spec["selector"]["matchLabels"].items()) <= set(labels.items()):
            fail(at, "selector does not match the pod template's labels")
        pod_spec = pod["spec"]
        if pod_spec.get("enableServiceLinks") is not False:
            fail(at, "enableServiceLinks must be false (Service variables share the SILT_ prefix)")
        volumes = {v["name"] for v in pod_spec.get("volumes") or []}
        volumes |= {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates") or []}
        for container in pod_spec["containers"]:
            cat = f"{at} container {container['name']}"
            args = container.get("args") or []
            if not args or args[0] not in SUBCOMMANDS:
                fail(cat, f"args {args} do not start with a silt subcommand")
            env = {e["name"]: str(e.get("value", "")) for e in container.get("env") or []}
            check_silt_env(cat, env)
            if not env.get("SILT_LISTEN", "").startswith("0.0.0.0:"):
                fail(cat, "SILT_LISTEN must be 0.0.0.0:PORT in a pod")
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
            if listen_port(env, 0) not in ports.values():
                fail(cat, "no containerPort for the SILT_LISTEN port")
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                get = (container.get(probe) or {}).get("httpGet") or {}
                if get.get("path") != path or get.get("port") not in ports:
                    fail(cat, f"{probe} must GET {path} on a declared port")
            for source in container.get("envFrom") or []:
                for ref, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if ref in source and source[ref]["name"] not in names(kind):
                        fail(cat, f"{ref} {source[ref]['name']} does not exist")
            for mount in container.get("volumeMounts") or []:
                if mount["name"] not in volumes:
                    fail(cat, f"volumeMount {mount['name']} has no volume")
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            for what, parse in (("cpu", cpu_millicores), ("memory", memory_bytes)):
                if what not in requests or what not in limits:
                    fail(cat, f"no {what} request or limit")
                elif parse(requests[what]) > parse(limits[what]):
                    fail(cat, f"{what} request above its limit")
            if args and args[0] == "gateway":
                notes = pod["metadata"].get("annotations") or {}
                if notes.get("prometheus.io/scrape") != "true" or notes.get("prometheus.io/path") != "/metrics":
                    fail(at, "no Prometheus scrape annotations for /metrics")
                elif int(notes.get("prometheus.io/port", 0)) not in ports.values():
                    fail(at, "prometheus.io/port is not a container port")
            if "SILT_COORDINATOR" in env:
                url = urlparse(env["SILT_COORDINATOR"])
                service = by_kind.get(("Service", url.hostname))
                if service is None or url.port not in [p["port"] for p in service["spec"]["ports"]]:
                    fail(cat, f"SILT_COORDINATOR {env['SILT_COORDINATOR']} is no Service port here")
        if kind == "StatefulSet":
            if spec.get("replicas") != 1:
                fail(at, "the coordinator must run exactly one replica")
            if spec.get("serviceName") not in names("Service"):
                fail(at, f"serviceName {spec.get('serviceName')} is not a Service")
    for (kind, name), doc in by_kind.items():
        if kind != "Service":
            continue
        selector = set((doc["spec"].get("selector") or {}).items())
        matched = [
            w for w in workloads.values()
            if selector and selector <= set((w["spec"]["template"]["metadata"].get("labels") or {}).items())
        ]
        if len(matched) != 1:
            fail(f"Service/{name}", f"selects {len(matched)} workloads, not 1")
            continue
        container_ports = {
            p.get("name") for c in matched[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports") or []
        }
        for port in doc["spec"]["ports"]:
            if isinstance(port.get("targetPort"), str) and port["targetPort"] not in container_ports:
                fail(f"Service/{name}", f"targetPort {port['targetPort']} is no container port")
    hpa_max = {}
    for (kind, name), doc in by_kind.items():
        if kind != "HorizontalPodAutoscaler":
            continue
        ref = doc["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) not in workloads:
            fail(f"HorizontalPodAutoscaler/{name}", f"scales {ref['kind']}/{ref['name']}, which does not exist")
        if doc["spec"].get("minReplicas", 1) > doc["spec"]["maxReplicas"]:
            fail(f"HorizontalPodAutoscaler/{name}", "minReplicas above maxReplicas")
        hpa_max[(ref["kind"], ref["name"])] = doc["spec"]["maxReplicas"]
    total = 0
    for key, doc in workloads.items():
        replicas = hpa_max.get(key, doc["spec"].get("replicas", 1))
        for container in doc["spec"]["template"]["spec"]["containers"]:
            total += replicas * cpu_millicores(container["resources"]["requests"]["cpu"])
    if total >= NODE_MILLICORES:
        fail(rel(K8S), f"CPU requests at full scale ({total}m) do not fit a 2-core node")
    print(f"  ok   {len(objects)} Kubernetes objects cross-checked; CPU requests at the HPA's maximum: {total}m"
          if len(errors) == before else "  FAIL Kubernetes cross-checks")


# --- grafana --------------------------------------------------------------------


def check_dashboard(dashboard):
    where = rel(DASHBOARD)
    before = len(errors)
    inputs = {i.get("name"): i for i in dashboard.get("__inputs", [])}
    ds = inputs.get("DS_PROMETHEUS", {})
    if ds.get("type") != "datasource" or ds.get("pluginId") != "prometheus":
        fail(where, "__inputs must declare DS_PROMETHEUS, a prometheus datasource")
    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < 36:
        fail(where, "schemaVersion missing or older than 36")
    for key in ("title", "uid", "panels"):
        if not dashboard.get(key):
            fail(where, f"no {key}")
    ids, exprs = set(), []
    for panel in dashboard.get("panels", []):
        at = f"{where}: panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in ids:
            fail(at, "duplicate id")
        ids.add(panel.get("id"))
        grid = panel.get("gridPos") or {}
        if not all(k in grid for k in "xywh") or grid["x"] + grid["w"] > 24:
            fail(at, f"bad gridPos {grid}")
        if panel.get("type") == "row":
            continue
        if (panel.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
            fail(at, "datasource is not ${DS_PROMETHEUS}")
        refs = [t.get("refId") for t in panel.get("targets", [])]
        if not refs or len(set(refs)) != len(refs):
            fail(at, "no targets, or duplicate refIds")
        for t in panel.get("targets", []):
            if not t.get("expr"):
                fail(at, f"target {t.get('refId')} has no expr")
            exprs.append((at, t.get("expr", "")))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query or "")
        if match:
            exprs.append((f"{where}: variable {variable.get('name')}", match.group(1)))
    used = set()
    for at, expr in exprs:
        for metric in re.findall(r"\b(silt_[a-z_]+)", expr):
            used.add(metric)
            if metric not in METRICS:
                fail(at, f"{metric} is not a metric in gateway/src/metrics.rs")
    for metric in sorted(METRICS - used):
        print(f"  note {metric} (gateway/src/metrics.rs) is on no dashboard panel")
    try:
        import promql_parser
    except ImportError:
        print("  skip PromQL parsing: the promql-parser Python package is not installed")
    else:
        parse_before = len(errors)
        for at, expr in exprs:
            concrete = expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
            try:
                promql_parser.parse(concrete)
            except Exception as error:  # the parser raises plain ValueError/RuntimeError
                fail(at, f"PromQL does not parse: {error}: {expr}")
        print(f"  ok   {len(exprs)} PromQL expressions parse (promql-parser)" if len(errors) == parse_before
              else "  FAIL PromQL parsing")
    print(f"  ok   dashboard structure checked: {len(ids)} panels, metrics all exported by the gateway"
          if len(errors) == before else f"  FAIL dashboard: {where}")


def main():
    docs = parse_all()
    if yaml is None:
        print("  skip YAML parsing and the compose/Kubernetes checks: PyYAML is not installed")
    else:
        for path in COMPOSE_FILES:
            if path in docs:
                check_compose(path, docs[path][0])
        check_k8s(docs)
    if DASHBOARD in docs:
        check_dashboard(docs[DASHBOARD][0])
    for error in errors:
        print(f"  FAIL {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
