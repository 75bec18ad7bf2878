"""The deployment files tell the truth: Docker cannot run here, so they are checked by reading.

Every variable the compose file gives Passages must be one ``webapp/config.py`` reads (a typo
would be silently ignored in production); every image is pinned; the web health check asks
``/readyz``; the Dockerfile builds in stages, runs as a non-root user and has a health check.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
PASSAGES_SERVICES = ("migrate", "web", "worker", "relay")


def settings_read_by_config() -> set[str]:
    """Environment names webapp/config.py reads (``env.get("X")``, ``_int(env, "X", …)``…)."""
    source = (REPO / "webapp" / "config.py").read_text()
    return set(re.findall(r'env(?:\.get\(|, )"([A-Z][A-Z0-9_]+)"', source))


#: Read by a library rather than by webapp/config.py: prometheus-client's multiprocess folder.
READ_BY_LIBRARIES = {"PROMETHEUS_MULTIPROC_DIR"}


def test_every_variable_given_to_passages_is_a_setting_it_reads() -> None:
    known = settings_read_by_config() | READ_BY_LIBRARIES
    assert {"DATABASE_URL", "S3_PUBLIC_ENDPOINT", "SECRET_KEY"} <= known  # the parser works

    for name in PASSAGES_SERVICES:
        environment = COMPOSE["services"][name]["environment"]
        unknown = sorted(set(environment) - known)
        assert unknown == [], f"{name} sets variables nothing reads: {unknown}"


def test_env_example_names_only_compose_or_passages_variables() -> None:
    compose_text = (REPO / "docker-compose.yml").read_text()
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.M)

    assert "SECRET_KEY" in names
    for name in names:
        assert "${" + name in compose_text, f".env.example sets {name}, compose never uses it"


def test_every_image_is_pinned_and_passages_is_built_not_installed_at_start() -> None:
    for name, service in COMPOSE["services"].items():
        image = service.get("image", "")
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: unpinned {image!r}"
        assert "pip install" not in str(service.get("command", "")), name
    for name in PASSAGES_SERVICES:
        assert COMPOSE["services"][name]["build"]["dockerfile"] == "Dockerfile"


def test_health_checks_use_a_route_that_exists_and_services_wait_for_them(client) -> None:
    web = COMPOSE["services"]["web"]
    assert client.get("/readyz").status_code == 200  # the route the checks call exists

    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    for name in ("redis", "minio", "postgres"):
        assert "test" in COMPOSE["services"][name]["healthcheck"], name
    assert web["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
    bucket = " ".join(COMPOSE["services"]["minio-bucket"]["command"])
    assert "mc mb --ignore-existing local/passages" in bucket


def test_web_counts_requests_of_every_gunicorn_worker_in_a_fresh_folder() -> None:
    web = COMPOSE["services"]["web"]
    folder = web["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert folder in web["tmpfs"]  # emptied at every start: no counts of a previous run
    assert (
        web["environment"]["DATABASE_URL"]
        == COMPOSE["services"]["worker"]["environment"]["DATABASE_URL"]
    )  # the merge kept the shared settings
    assert "PASSAGES_METRICS_TOKEN" in web["environment"]


def test_dockerfile_is_multi_stage_pinned_non_root_with_a_health_check() -> None:
    text = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M).group(1)

    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base)
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "COPY --from=build /opt/venv /opt/venv" in text
    assert re.search(r"^USER passages$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/readyz", text, re.M)
    postgres_major = COMPOSE["services"]["postgres"]["image"].split(":")[1].split(".")[0]
    assert f"postgresql-client-{postgres_major}" in text  # pg_dump matches the server


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed here",
)
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"SECRET_KEY": "x", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert result.returncode == 0, result.stderr
