#!/usr/bin/env python3
"""Structural checks of the deployment files under infra/ and localstack/.

Run by infra/validate.sh; needs Python 3.9+ and PyYAML (without PyYAML only the JSON
checks run). Every file is parsed, and the files are checked against each other and
against the Silt source: the SILT_* variables they set are ones the `silt` binary
reads (each subcommand its own: cli.rs and args.rs), the metrics the dashboard queries are ones
the gateway exports, Services select the pods they are meant to, coordinators,
gateways, the compactor and PostgreSQL point at each other correctly, and so on.
Exits 1 if any check fails.
"""

import ipaddress
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
LOCALSTACK = ROOT / "localstack"
COMPOSE_FILES = [INFRA / "docker-compose.yml", LOCALSTACK / "docker-compose.yml"]
# What each compose file must run (silt subcommands, or image names), at least.
COMPOSE_REQUIRED = {
    INFRA / "docker-compose.yml": [
        ("minio/minio", 1), ("postgres", 1), ("coordinator", 2), ("gateway", 2), ("compactor", 1),
    ],
}
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


def cli_source():
    """The command line's source: the commands (cli.rs) and their arguments (args.rs)."""
    return "\n".join((ROOT / "silt" / "src" / name).read_text() for name in ("cli.rs", "args.rs"))


def silt_subcommands():
    text = cli_source()
    body = text.split("pub enum Command {", 1)[1].split("\n}", 1)[0]
    return {name.lower() for name in re.findall(r"^    ([A-Z]\w*)\b", body, re.M)}


def subcommand_env_vars():
    """Per server subcommand (`Gateway(ServeArgs)` ...), the SILT_* variables of its
    clap struct, flattened structs included, plus those read outside cli.rs (SILT_LOG)."""
    text = cli_source()
    structs = dict(re.findall(r"^pub struct (\w+) \{(.*?)^\}", text, re.M | re.S))
    anywhere = SILT_ENV - set(re.findall(r'env = "(SILT_[A-Z0-9_]+)"', text))

    def names(struct, seen=()):
        body = structs.get(struct, "")
        found = set(re.findall(r'env = "(SILT_[A-Z0-9_]+)"', body))
        for inner in re.findall(r"#\[command\(flatten\)\]\s*pub \w+: (\w+)", body):
            if inner not in seen:
                found |= names(inner, (*seen, struct))
        return found

    body = text.split("pub enum Command {", 1)[1].split("\n}", 1)[0]
    return {
        variant.lower(): names(struct) | anywhere
        for variant, struct in re.findall(r"^    ([A-Z]\w*)\((\w+)\)", body, re.M)
        if struct in structs
    }


def kafka_advertised_takes_ip_only():
    """True while --kafka-advertised-address parses as a SocketAddr (no host names)."""
    text = cli_source()
    return re.search(r"pub kafka_advertised_address: Option<SocketAddr>", text) is not None


METRIC_SOURCES = [
    "gateway/src/metrics.rs",
    "coordinator/src/service.rs",
    "coordinator/src/service/commit.rs",
    "coordinator/src/service/metrics.rs",
    "coordinator/src/http.rs",
    "compactor/src/stats.rs",
]


def gateway_metrics():
    text = "\n".join((ROOT / source).read_text() for source in METRIC_SOURCES)
    literals = re.findall(r'"(?:[^"\\]|\\.)*"', text)
    return {name for literal in literals for name in re.findall(r"\b(silt_[a-z_]+)", literal)}


SILT_ENV = silt_env_vars()
SUBCOMMANDS = silt_subcommands()
SUBCOMMAND_ENV = subcommand_env_vars()
ADVERTISED_IP_ONLY = kafka_advertised_takes_ip_only()
METRICS = gateway_metrics()
if (
    not SILT_ENV
    or not {"gateway", "coordinator", "compactor"} <= SUBCOMMANDS
    or not all(len(SUBCOMMAND_ENV.get(s, ())) > 3 for s in ("gateway", "coordinator", "compactor"))
    or "SILT_LISTEN" not in SUBCOMMAND_ENV["gateway"]
    or "SILT_METADATA_URL" not in SUBCOMMAND_ENV["coordinator"]
    or not METRICS
):
    fail("silt source", "could not read env vars, subcommands or metric names from the source")
    SUBCOMMAND_ENV = {}
# The default HTTP port of each subcommand that serves HTTP (reads SILT_LISTEN).
DEFAULT_PORT = {"dev": 8080, "gateway": 8080, "coordinator": 9090, "compactor": 9091}


def serves_http(subcommand):
    """Whether the subcommand reads SILT_LISTEN, i.e. serves HTTP that can be probed."""
    return "SILT_LISTEN" in SUBCOMMAND_ENV.get(subcommand, SILT_ENV)


def check_silt_env(where, names, subcommand=None):
    for name in names:
        if not name.startswith("SILT_"):
            continue
        if name not in SILT_ENV:
            fail(where, f"{name} is not a variable the silt binary reads")
        elif subcommand in SUBCOMMAND_ENV and name not in SUBCOMMAND_ENV[subcommand]:
            fail(where, f"{name} is not a variable `silt {subcommand}` reads")


def socket_addr(value):
    """(ip, port) if `value` parses as a Rust SocketAddr (an IP literal, IPv6 in
    brackets, and a port), else None."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([0-9.]+):(\d+)", value or "")
    if not match:
        return None
    host, port = match.group(1) or match.group(3), int(match.group(2) or match.group(4))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return (host, port) if port < 65536 else None


def coordinator_urls(value):
    """SILT_COORDINATOR: one URL, or the replicas' URLs separated by commas."""
    return [urlparse(url.strip()) for url in (value or "").split(",") if url.strip()]


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


def compose_ports(service):
    """(host port, container port) per published port, short or long syntax."""
    pairs = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            pairs.append((str(port.get("published", "")), str(port.get("target", ""))))
        else:
            parts = str(port).split("/", 1)[0].split(":")
            pairs.append((parts[-2] if len(parts) > 1 else "", parts[-1]))
    return pairs


def depends_on(service):
    depends = service.get("depends_on") or {}
    if isinstance(depends, dict):
        return {name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()}
    return {name: "service_started" for name in depends}


def silt_command(service):
    """The silt subcommand a compose service runs, or None for other images."""
    if service.get("build") or str(service.get("image", "")).startswith("silt:"):
        command = service.get("command") or []
        return str(command[0]) if command else ""
    return None


def check_compose(path, doc, required=()):
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
        image = str(service.get("image", ""))
        if image and "build" not in service:
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                fail(at, f"image {image} is not pinned to a version tag")
        build = service.get("build")
        if isinstance(build, dict):
            context = (path.parent / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                fail(at, f"build file {dockerfile} does not exist")
        for dependency, condition in depends_on(service).items():
            if dependency not in services:
                fail(at, f"depends on unknown service {dependency}")
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
        for host, _ in compose_ports(service):
            if host in host_ports:
                fail(at, f"host port {host} also published by {host_ports[host]}")
            host_ports[host] = name
        if image.startswith("postgres:"):
            test = " ".join(map(str, (service.get("healthcheck") or {}).get("test", [])))
            if "pg_isready" not in test:
                fail(at, f"PostgreSQL without a pg_isready healthcheck: {test!r}")
        if silt_command(service) is not None:
            check_silt_service(at, service, services)
        elif service.get("command") is None and "entrypoint" not in service and "image" not in service:
            fail(at, "nothing to run")
    coordinators = {name: s for name, s in services.items() if silt_command(s) == "coordinator"}
    urls = {as_env(s.get("environment")).get("SILT_METADATA_URL") for s in coordinators.values()}
    if len(coordinators) > 1 and (None in urls or len(urls) != 1):
        fail(where, f"coordinators {sorted(coordinators)} must share one SILT_METADATA_URL "
                    "(PostgreSQL): each SQLite coordinator would have a log of its own")
    for name, service in services.items():
        if silt_command(service) in ("gateway", "compactor") and coordinators:
            env = as_env(service.get("environment"))
            named = {url.hostname for url in coordinator_urls(env.get("SILT_COORDINATOR"))}
            if named != set(coordinators):
                fail(f"{where}: service {name}", f"SILT_COORDINATOR names {sorted(named)}, "
                     f"not every coordinator replica {sorted(coordinators)}")
    commands = [silt_command(s) for s in services.values()]
    images = [str(s.get("image", "")).split(":", 1)[0] for s in services.values()]
    for thing, count in required:
        have = commands.count(thing) + images.count(thing)
        if have < count:
            fail(where, f"needs {count} {thing} service(s), has {have}")
    print(f"  ok   compose structure and cross-references: {where}" if len(errors) == before
          else f"  FAIL compose structure: {where}")


def check_silt_service(at, service, services):
    command = service.get("command") or []
    if not command or command[0] not in SUBCOMMANDS:
        fail(at, f"command {command} is not a silt subcommand ({sorted(SUBCOMMANDS)})")
        return
    subcommand = command[0]
    env = as_env(service.get("environment"))
    check_silt_env(at, env, subcommand)
    healthcheck = service.get("healthcheck") or {}
    test = " ".join(map(str, healthcheck.get("test", [])))
    if serves_http(subcommand):
        if not env.get("SILT_LISTEN", "").startswith("0.0.0.0:"):
            fail(at, "SILT_LISTEN must be 0.0.0.0:PORT in a container")
        port = listen_port(env, DEFAULT_PORT.get(subcommand, 8080))
        # A coordinator standby (PostgreSQL) answers /readyz with 503 until it leads.
        path = "/healthz" if subcommand == "coordinator" and "SILT_METADATA_URL" in env else "/readyz"
        if f":{port}{path}" not in test:
            fail(at, f"healthcheck does not GET {path} on its listen port {port}: {test!r}")
    elif healthcheck or service.get("ports") or service.get("expose"):
        fail(at, f"`silt {subcommand}` serves no port: no healthcheck, ports or expose")
    if subcommand in ("gateway", "compactor"):
        for key in ("SILT_COORDINATOR", "SILT_OBJECT_STORE"):
            if key not in env:
                fail(at, f"{subcommand} without {key}")
        urls = coordinator_urls(env.get("SILT_COORDINATOR"))
        for url in urls:
            target = services.get(url.hostname or "")
            if target is None or silt_command(target) != "coordinator":
                fail(at, f"SILT_COORDINATOR host {url.hostname} is not a coordinator service here")
            elif listen_port(as_env(target.get("environment")), 9090) != url.port:
                fail(at, f"SILT_COORDINATOR port {url.port} is not where {url.hostname} listens")
        waits = depends_on(service)
        if urls and not any(waits.get(url.hostname) == "service_healthy" for url in urls):
            fail(at, "does not wait for a coordinator to be healthy (depends_on)")
    if "SILT_OBJECT_STORE" in env:
        check_compose_bucket(at, env, services)
    if subcommand == "coordinator" and "SILT_METADATA_URL" in env:
        check_compose_postgres(at, env["SILT_METADATA_URL"], service, services)
    if subcommand == "gateway":
        check_compose_kafka(at, env, service)


def check_compose_bucket(at, env, services):
    if not env["SILT_OBJECT_STORE"].startswith("s3://"):
        fail(at, "SILT_OBJECT_STORE is not an s3:// URL")
        return
    endpoint = urlparse(env.get("AWS_ENDPOINT_URL", ""))
    if endpoint.hostname not in services:
        fail(at, f"AWS_ENDPOINT_URL host {endpoint.hostname} is not a service here")
    if endpoint.scheme == "http" and env.get("AWS_ALLOW_HTTP") != "true":
        fail(at, "http AWS_ENDPOINT_URL needs AWS_ALLOW_HTTP=true")
    for key in ("AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if key not in env:
            fail(at, f"an s3:// SILT_OBJECT_STORE without {key}")


def check_compose_postgres(at, value, service, services):
    url = urlparse(value)
    if url.scheme not in ("postgres", "postgresql"):
        fail(at, f"SILT_METADATA_URL is not a postgres:// URL: {value}")
        return
    target = services.get(url.hostname or "")
    if target is None or not str(target.get("image", "")).startswith("postgres:"):
        fail(at, f"SILT_METADATA_URL host {url.hostname} is not a postgres service here")
        return
    pg = as_env(target.get("environment"))
    user = pg.get("POSTGRES_USER", "postgres")
    expected = (user, pg.get("POSTGRES_PASSWORD"), pg.get("POSTGRES_DB", user), 5432)
    actual = (url.username, url.password, url.path.lstrip("/"), url.port or 5432)
    if actual != expected:
        fail(at, f"SILT_METADATA_URL (user, password, database, port) {actual} do not match "
                 f"the {url.hostname} service's {expected}")
    if depends_on(service).get(url.hostname) != "service_healthy":
        fail(at, f"does not wait for {url.hostname} to be healthy (depends_on)")


def check_compose_kafka(at, env, service):
    listen = env.get("SILT_KAFKA_LISTEN", "127.0.0.1:9092").strip()
    if listen in ("off", "none", ""):
        return
    bound = socket_addr(listen)
    if bound is None:
        fail(at, f"SILT_KAFKA_LISTEN {listen!r} is not IP:PORT or off")
        return
    published = {container: host for host, container in compose_ports(service)}
    host = published.get(str(bound[1]))
    if host is None:
        return
    if bound[0] != "0.0.0.0":
        fail(at, f"publishes the Kafka port {bound[1]}, but SILT_KAFKA_LISTEN {listen} is not 0.0.0.0")
    advertised = env.get("SILT_KAFKA_ADVERTISED_ADDRESS", f"127.0.0.1:{bound[1]}")
    parsed = socket_addr(advertised)
    if ADVERTISED_IP_ONLY and parsed is None:
        fail(at, f"SILT_KAFKA_ADVERTISED_ADDRESS {advertised!r} is not IP:PORT (the flag is a SocketAddr)")
    elif parsed is not None and str(parsed[1]) != host:
        fail(at, f"Kafka clients are told to connect to {advertised}, but the port is published on host port {host}")



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


def check_k8s_coordinator(at, kind, spec, env, from_secret):
    replicas = spec.get("replicas", 1)
    url = env.get("SILT_METADATA_URL")
    if url is None:
        # SQLite: one file on one volume, one writer.
        if kind != "StatefulSet" or replicas != 1 or not spec.get("volumeClaimTemplates"):
            fail(at, "a coordinator on SQLite must be a StatefulSet with exactly one replica and a volume")
        return
    if "SILT_METADATA_URL" not in from_secret:
        fail(at, "SILT_METADATA_URL holds the database password: take it from a Secret (secretKeyRef)")
    if urlparse(url).scheme not in ("postgres", "postgresql"):
        fail(at, f"SILT_METADATA_URL is not a postgres:// URL: {url}")
    if kind == "StatefulSet" and spec.get("serviceName") is None:
        fail(at, "StatefulSet without serviceName")
    if kind == "Deployment" and replicas > 1:
        # Only the leader is Ready: a rollout that keeps any replica available waits for
        # a new replica to become Ready while an old one holds the lock, forever.
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        unavailable = str(rolling.get("maxUnavailable", "25%"))
        if spec.get("strategy", {}).get("type") != "Recreate" and not (
            unavailable == "100%" or (unavailable.isdigit() and int(unavailable) >= replicas)
        ):
            fail(at, f"maxUnavailable {unavailable} keeps a rollout from ever finishing: only the "
                     "leading replica is Ready (use 100% or Recreate)")


def check_k8s_kafka(cat, key, env, ports, services, selected_by):
    listen = env.get("SILT_KAFKA_LISTEN")
    if listen is None or listen.strip() in ("off", "none", ""):
        return
    bound = socket_addr(listen)
    if bound is None or bound[0] != "0.0.0.0":
        fail(cat, f"SILT_KAFKA_LISTEN {listen!r} must be 0.0.0.0:PORT in a pod (or off)")
        return
    names = [name for name, port in ports.items() if port == bound[1]]
    if not names:
        fail(cat, f"no containerPort for the Kafka port {bound[1]}")
    advertised = env.get("SILT_KAFKA_ADVERTISED_ADDRESS")
    if advertised is None:
        fail(cat, f"no SILT_KAFKA_ADVERTISED_ADDRESS: clients would be told 127.0.0.1:{bound[1]}")
    elif ADVERTISED_IP_ONLY and socket_addr(advertised) is None:
        fail(cat, f"SILT_KAFKA_ADVERTISED_ADDRESS {advertised!r} does not parse as IP:PORT")
    elif socket_addr(advertised) and socket_addr(advertised)[1] != bound[1]:
        fail(cat, f"SILT_KAFKA_ADVERTISED_ADDRESS {advertised} is not the pod's Kafka port {bound[1]}")
    exposed = [
        name for name, service in services.items() if key in selected_by(service)
        and any(p.get("targetPort") in (*names, bound[1]) for p in service["spec"]["ports"])
    ]
    if not exposed:
        fail(cat, f"no Service has a port for the Kafka listener ({bound[1]})")


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
    workloads = {key: doc for key, doc in by_kind.items() if key[0] in ("Deployment", "StatefulSet")}

    def data_of(kind, name):
        """The keys and values of a ConfigMap or Secret (None if there is none)."""
        obj = by_kind.get((kind, name))
        if obj is None:
            return None
        return {**(obj.get("data") or {}), **(obj.get("stringData") or {})}

    def selected_by(service):
        selector = set((service["spec"].get("selector") or {}).items())
        return [
            key for key, w in workloads.items()
            if selector and selector <= set((w["spec"]["template"]["metadata"].get("labels") or {}).items())
        ]

    def subcommand_of(workload):
        args = workload["spec"]["template"]["spec"]["containers"][0].get("args") or [""]
        return args[0]

    services = {name: doc for (kind, name), doc in by_kind.items() if kind == "Service"}
    subcommands = {}
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
            subcommand = args[0] if args else ""
            subcommands.setdefault(subcommand, []).append((kind, name))
            # envFrom first: `env` wins over it, as in Kubernetes.
            env = {}
            for source in container.get("envFrom") or []:
                for ref, ref_kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if ref in source:
                        data = data_of(ref_kind, source[ref]["name"])
                        if data is None:
                            fail(cat, f"{ref} {source[ref]['name']} does not exist")
                        env.update({k: str(v) for k, v in (data or {}).items()})
            from_secret = set()
            for entry in container.get("env") or []:
                if "value" in entry:
                    value = str(entry["value"])
                    for ref in re.findall(r"\$\((\w+)\)", value):
                        if ref not in env:
                            fail(cat, f"{entry['name']} refers to $({ref}), which is not defined before it")
                    env[entry["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value)
                    continue
                source = entry.get("valueFrom") or {}
                for ref, ref_kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if ref in source:
                        data = data_of(ref_kind, source[ref]["name"])
                        if data is None or source[ref]["key"] not in data:
                            fail(cat, f"{entry['name']}: {ref_kind} {source[ref]['name']} "
                                      f"with key {source[ref]['key']} does not exist")
                        env[entry["name"]] = str((data or {}).get(source[ref]["key"], ""))
                        if ref_kind == "Secret":
                            from_secret.add(entry["name"])
                if "fieldRef" in source:
                    # A sample value for the downward API field, to check what uses it.
                    env[entry["name"]] = {"status.podIP": "10.0.0.1"}.get(source["fieldRef"]["fieldPath"], "x")
            check_silt_env(cat, env, subcommand)
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
            if serves_http(subcommand):
                if not env.get("SILT_LISTEN", "").startswith("0.0.0.0:"):
                    fail(cat, "SILT_LISTEN must be 0.0.0.0:PORT in a pod")
                if listen_port(env, 0) not in ports.values():
                    fail(cat, "no containerPort for the SILT_LISTEN port")
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    get = (container.get(probe) or {}).get("httpGet") or {}
                    if get.get("path") != path or get.get("port") not in ports:
                        fail(cat, f"{probe} must GET {path} on a declared port")
            else:
                for what in ("ports", "readinessProbe", "livenessProbe", "startupProbe"):
                    if container.get(what):
                        fail(cat, f"`silt {subcommand}` serves no port, so it can have no {what}")
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
            if subcommand == "gateway":
                notes = pod["metadata"].get("annotations") or {}
                if notes.get("prometheus.io/scrape") != "true" or notes.get("prometheus.io/path") != "/metrics":
                    fail(at, "no Prometheus scrape annotations for /metrics")
                elif int(notes.get("prometheus.io/port", 0)) not in ports.values():
                    fail(at, "prometheus.io/port is not a container port")
                check_k8s_kafka(cat, (kind, name), env, ports, services, selected_by)
            if subcommand in ("gateway", "compactor"):
                for key in ("SILT_COORDINATOR", "SILT_OBJECT_STORE"):
                    if key not in env:
                        fail(cat, f"{subcommand} without {key} (env or envFrom)")
            for url in coordinator_urls(env.get("SILT_COORDINATOR")):
                service = services.get(url.hostname)
                if service is None or url.port not in [p["port"] for p in service["spec"]["ports"]]:
                    fail(cat, f"SILT_COORDINATOR {url.geturl()} is no Service port here")
                elif not all(subcommand_of(workloads[key]) == "coordinator" for key in selected_by(service)):
                    fail(cat, f"SILT_COORDINATOR {url.geturl()}: Service {url.hostname} selects no coordinator")
            if subcommand == "coordinator":
                check_k8s_coordinator(at, kind, spec, env, from_secret)
    for wanted in ("gateway", "coordinator", "compactor"):
        if wanted not in subcommands:
            fail(rel(K8S), f"no workload runs `silt {wanted}`")
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
    for key in subcommands.get("gateway", []):
        if key[0] != "Deployment" or key not in hpa_max:
            fail(f"{key[0]}/{key[1]}", "gateways must be a Deployment with a HorizontalPodAutoscaler")
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
            # A histogram's series carry a suffix on the name the source writes.
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            metric = base if base in METRICS else metric
            used.add(metric)
            if metric not in METRICS:
                fail(at, f"{metric} is not a metric in {', '.join(METRIC_SOURCES)}")
    for metric in sorted(METRICS - used):
        print(f"  note {metric} is on no dashboard panel")
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
                check_compose(path, docs[path][0], COMPOSE_REQUIRED.get(path, ()))
        check_k8s(docs)
    if DASHBOARD in docs:
        check_dashboard(docs[DASHBOARD][0])
    for error in errors:
        print(f"  FAIL {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
