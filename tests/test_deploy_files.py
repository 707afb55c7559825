"""Docker does not run here: keep the Dockerfile, the compose file and the README consistent."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())


def _instructions(name: str) -> list[str]:
    text = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.split(None, 1)[:1] == [name]]


def test_compose_services_are_documented() -> None:
    services = set(COMPOSE["services"])
    assert services == {"app-a", "app-b", "nginx", "scheduler", "worker-1", "worker-2", "postgres"}
    for name in services:
        assert f"`{name}`" in README, f"README does not explain the compose service {name}"


def test_compose_publishes_ports_on_loopback_only() -> None:
    for name, service in COMPOSE["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_compose_workers_reach_the_scheduler_and_store() -> None:
    services = COMPOSE["services"]
    for name in ("worker-1", "worker-2"):
        assert services[name]["entrypoint"][:3] == ["dask", "worker", "tcp://scheduler:8786"]
        assert services[name]["environment"]["LOOM_DATABASE_URL"].startswith("postgresql+psycopg://")
    for name in APP_REPLICAS:
        assert services[name]["environment"]["DASK_SCHEDULER_ADDRESS"] == "tcp://scheduler:8786"
        assert "loom-data:/data" in services[name]["volumes"]


APP_REPLICAS = ("app-a", "app-b")


def test_compose_runs_two_app_replicas_behind_nginx_with_metrics() -> None:
    """Two app services from one definition (same image, store, scheduler and data volume), only
    nginx published, its template the shipped deploy/nginx/loom.conf pointed at both replicas,
    and each replica's metrics port open inside the network and labelled for scraping."""
    services = COMPOSE["services"]
    apps = [name for name, s in services.items() if "entrypoint" not in s and s.get("image") == "loom:latest"]
    assert sorted(apps) == list(APP_REPLICAS), "compose must run exactly two app replicas"
    a, b = (services[name] for name in APP_REPLICAS)
    assert {k: v for k, v in a.items() if k != "build"} == b, "the replicas must be configured alike"
    for app in (a, b):
        assert "ports" not in app, "replicas are reached through nginx only"
        env = app["environment"]
        assert env["LOOM_DATABASE_URL"].startswith("postgresql+psycopg://")
        port = env["LOOM_METRICS_PORT"]
        assert env["LOOM_METRICS_HOST"] == "0.0.0.0" and port in app["expose"]
        assert app["labels"]["prometheus.io/scrape"] == "true" and app["labels"]["prometheus.io/port"] == port
    nginx = services["nginx"]
    assert nginx["ports"] == [f"127.0.0.1:8501:{nginx['environment']['LOOM_NGINX_LISTEN']}"]
    assert "./nginx/loom.conf:/etc/nginx/templates/nginx.conf.template:ro" in nginx["volumes"]
    assert nginx["environment"]["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"
    assert {nginx["environment"]["LOOM_REPLICA_A"], nginx["environment"]["LOOM_REPLICA_B"]} == {
        f"{name}:8501" for name in APP_REPLICAS
    }
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", NGINX_CONF))
    assert placeholders == {n for n in nginx["environment"] if n.startswith("LOOM_")}


NGINX_CONF = (ROOT / "deploy" / "nginx" / "loom.conf").read_text()


def test_nginx_conf_is_sticky_and_proxies_websockets() -> None:
    conf = re.sub(r"#.*", "", NGINX_CONF)
    upstream = re.search(r"upstream loom \{(.*?)\n    \}", conf, re.DOTALL)
    assert upstream and "hash $loom_route consistent;" in upstream[1], "no sticky hashing"
    assert "map $cookie_loom_route $loom_route" in conf and "add_header Set-Cookie $loom_route_cookie" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert "proxy_http_version 1.1;" in conf
    assert "proxy_next_upstream error timeout" in conf, "a dead replica's browsers must move on"
    assert "client_max_body_size 1024m;" in conf  # Streamlit's maxUploadSize, checked below


def test_compose_nginx_follows_the_replicas_by_name() -> None:
    """In compose, nginx looks the replicas' names up again while it runs (``resolve``, with
    Docker's DNS and the shared zone it needs), so it starts before a replica's name exists and
    follows a replica recreated at a new address; and it waits for both to be healthy."""
    nginx = COMPOSE["services"]["nginx"]
    env = nginx["environment"]
    conf = re.sub(r"#.*", "", NGINX_CONF)
    for name, value in env.items():
        conf = conf.replace("${" + name + "}", value)
    upstream = re.search(r"upstream loom \{(.*?)\n    \}", conf, re.DOTALL)
    assert upstream is not None
    assert "zone loom" in upstream[1] and "resolver 127.0.0.11" in upstream[1]
    servers = re.findall(r"server (\S+) [^;]*resolve;", upstream[1])
    assert sorted(servers) == sorted(f"{name}:8501" for name in APP_REPLICAS)
    assert nginx["image"].split(":")[1] >= "1.27", "`resolve` in an upstream needs nginx 1.27.3+"
    assert {n: d["condition"] for n, d in nginx["depends_on"].items()} == dict.fromkeys(
        APP_REPLICAS, "service_healthy"
    )


def test_nginx_conf_renders_and_nginx_accepts_it(tmp_path: Path) -> None:
    """The shipped file with its placeholders filled in, as the e2e test renders it, passes
    `nginx -t` (where nginx is installed: tests/install_system_deps.sh)."""
    from tests.e2e.test_replicas import render_nginx_conf

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed: run tests/install_system_deps.sh")
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx_conf("127.0.0.1:18080", "127.0.0.1:18501", "127.0.0.1:18502", tmp_path))
    out = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr


def test_dockerfile_is_multistage_slim_nonroot_with_healthcheck() -> None:
    froms = _instructions("FROM")
    assert len(froms) >= 2 and all("slim" in f for f in froms)
    assert _instructions("USER") == ["loom"]
    assert "/_stcore/health" in _instructions("HEALTHCHECK")[0]
    assert "PYTHONPATH=/app" in " ".join(_instructions("ENV")), "dask workers must import core/"


def test_dockerfile_entrypoint_matches_readme() -> None:
    entrypoint = json.loads(_instructions("ENTRYPOINT")[0])
    assert entrypoint[:3] == ["streamlit", "run", "app.py"]
    assert f"`ENTRYPOINT` is `{' '.join(entrypoint)}`" in README


def test_dockerfile_copies_every_runtime_folder() -> None:
    copied = " ".join(_instructions("COPY"))
    for folder in ("core", "pages", "assets", ".streamlit", "app.py"):
        assert folder in copied


def test_readme_commands_match_ci() -> None:
    run = re.search(r"```bash\n(pip install -r requirements.txt && streamlit run app.py)\n```", README)
    assert run, "README lost its install+run command"
    test_cmd = re.search(r"## Test it\n\n```bash\n(.+)\n```", README)
    assert test_cmd, "README lost its test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd.group(1) in ci.splitlines(), ".ci/run must run exactly the README's test command"


def test_every_requirement_is_pinned() -> None:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"{line!r} is not pinned"


def test_upload_limit_is_set_and_documented() -> None:
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit = config["server"]["maxUploadSize"]
    assert f"`server.maxUploadSize = {limit}`" in README
    assert config["server"]["address"] == "127.0.0.1"


def test_kubernetes_manifests_fit_together() -> None:
    """The app reaches the operator's scheduler Service over TLS, workers and app share the data
    volume and the database Secret, and GPU workers declare the GPU resource Loom asks for."""
    docs = [
        d
        for f in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]
    kinds = {d["kind"]: d for d in docs}
    assert {"DaskCluster", "Deployment", "Service", "PersistentVolumeClaim", "ConfigMap"} <= set(kinds)
    cluster = kinds["DaskCluster"]
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    app = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in app["env"]}
    assert env["DASK_SCHEDULER_ADDRESS"]["value"] == f"tls://{cluster['metadata']['name']}-scheduler:8786"
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    assert "GPU=1" in worker["command"] and worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {m["mountPath"] for m in worker["volumeMounts"]} >= {"/data"}
    tls = kinds["ConfigMap"]["data"]
    assert tls["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "true"
    assert kinds["Service"]["spec"]["type"] == "ClusterIP"  # exposed only through an ingress


def _k8s_docs() -> list[dict]:  # type: ignore[type-arg]
    return [
        d
        for f in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]


def test_kubernetes_runs_two_sticky_replicas_with_scraped_metrics() -> None:
    kinds = {d["kind"]: d for d in _k8s_docs()}
    deployment, service, ingress = kinds["Deployment"], kinds["Service"], kinds["Ingress"]
    assert deployment["spec"]["replicas"] == 2
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    port = env["LOOM_METRICS_PORT"]
    assert env["LOOM_METRICS_HOST"] == "0.0.0.0"
    assert {"name": "metrics", "containerPort": int(port)} in container["ports"]
    scrape = pod["metadata"]["annotations"]
    assert scrape["prometheus.io/scrape"] == "true" and scrape["prometheus.io/port"] == port
    assert scrape["prometheus.io/path"] == "/metrics"


def test_dockerfile_has_a_gpu_build() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG GPU=0" in text and "tensorflow[and-cuda]" in text


def _install_step(tmp_path: Path, extras: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The build stage's install RUN, run by /bin/sh as Docker runs it, with the files the COPY
    before it puts in /tmp/ and a pip that records each install instead of downloading."""
    (copy,) = [c for c in _instructions("COPY") if c.split()[-1] == "/tmp/"]
    (run,) = [r for r in _instructions("RUN") if "/tmp/requirements.txt" in r]
    stage = tmp_path / "stage"
    stage.mkdir()
    for name in copy.split()[:-1]:
        shutil.copy(ROOT / name, stage / name)
    log = tmp_path / "pip.log"
    pip = tmp_path / "pip"
    pip.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    pip.chmod(0o755)
    script = run.replace("/tmp/", "@STAGE@/").replace("/opt/venv/bin/pip", str(pip))
    script = script.replace("@STAGE@", str(stage))
    env = {"PATH": os.environ["PATH"], "GPU": "0", "LOOM_EXTRAS": extras}
    out = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    installed = log.read_text().splitlines() if log.exists() else []
    return out, [line.replace(f"{stage}/", "") for line in installed]


@pytest.mark.parametrize(
    ("extras", "files"),
    [
        ("", ["requirements.txt"]),
        ("jax", ["requirements.txt", "requirements-jax.txt"]),
        ("torch", ["requirements.txt", "requirements-torch.txt"]),
        ("jax torch", ["requirements.txt", "requirements-jax.txt", "requirements-torch.txt"]),
    ],
)
def test_dockerfile_installs_the_backend_extras_named_in_loom_extras(
    tmp_path: Path, extras: str, files: list[str]
) -> None:
    assert 'ARG LOOM_EXTRAS=""' in DOCKERFILE
    out, installed = _install_step(tmp_path, extras)
    assert out.returncode == 0, out.stderr
    assert installed == [f"install -r {name}" for name in files]


def test_dockerfile_refuses_an_unknown_extra_and_offers_every_backend_file(tmp_path: Path) -> None:
    out, installed = _install_step(tmp_path, "jax tensorflow")
    assert out.returncode != 0
    assert "unknown extra 'tensorflow'; valid extras are: jax torch" in out.stderr
    # Every optional backend file in the repository can be named (and is copied into the image).
    offered = sorted(p.name for p in ROOT.glob("requirements-*.txt") if p.name != "requirements-dev.txt")
    assert offered == ["requirements-jax.txt", "requirements-torch.txt"]
