# syntax=docker/dockerfile:1
# One image for the worker, the dashboard and (target `dataflow`) the Dataflow Flex Template
# launcher; `trackline` is the entrypoint, so the command picks the service (docs/deploy.md):
#   docker build -t trackline .                                        worker, dashboard
#   docker build --build-arg EXTRAS=web,gcp,postgres,beam --target dataflow -t trackline-flex .
#   docker run trackline serve worker --host 0.0.0.0                   (the default command)
#   docker run -p 8050:8050 -e TRACKLINE_DASHBOARD_TOKEN trackline serve dashboard --host 0.0.0.0
# Extras by build argument: the default serves the worker and the dashboard on GCP.

ARG PYTHON_VERSION=3.11
# Google publishes the Flex Template launcher under moving tags: pin a digest for a release.
ARG LAUNCHER_IMAGE=gcr.io/dataflow-templates-base/python311-template-launcher-base:latest

# ---- build: the package and its extras into a virtualenv, compilers stay here ------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG EXTRAS=web,gcp,postgres,redis
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/trackline \
    && /opt/trackline/bin/pip install --no-cache-dir ".[${EXTRAS}]" \
    && /opt/trackline/bin/trackline --help > /dev/null

# ---- runtime: slim, non-root, nothing but the virtualenv ----------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 trackline \
    && useradd --system --uid 10001 --gid trackline --create-home --home-dir /home/trackline trackline
COPY --from=build /opt/trackline /opt/trackline
ENV PATH=/opt/trackline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRACKLINE_HOME=/home/trackline/data
WORKDIR /home/trackline
USER 10001:10001
# 8080: the worker (Cloud Run's $PORT); 8050: the dashboard
EXPOSE 8080 8050
ENTRYPOINT ["trackline"]
CMD ["serve", "worker", "--host", "0.0.0.0"]

# ---- dataflow: the Flex Template launcher beside the same package -------------------------
FROM ${LAUNCHER_IMAGE} AS launcher

FROM runtime AS dataflow
COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher
COPY --chown=10001:10001 deploy/dataflow/ /home/trackline/dataflow/
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/home/trackline/dataflow/main.py \
    FLEX_TEMPLATE_PYTHON_REQUIREMENTS_FILE="" \
    PIP_NO_DEPS=True
ENTRYPOINT ["/opt/google/dataflow/python_template_launcher"]
