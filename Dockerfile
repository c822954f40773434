# syntax=docker/dockerfile:1
# One image for the worker, the dashboard and (target `dataflow`) the Dataflow Flex Template
# launcher; `trackline` is the entrypoint, so the command picks the service (docs/deploy.md):
#   docker build -t trackline .                                        worker, dashboard
#   docker build --build-arg EXTRAS=gcp,beam --target dataflow -t trackline-flex .
#   docker run trackline serve worker --host 0.0.0.0                   (the default command)
#   docker run -p 8050:8050 -e TRACKLINE_DASHBOARD_TOKEN trackline serve dashboard --host 0.0.0.0
# Extras by build argument: the default serves the worker and the dashboard on GCP.

ARG PYTHON_VERSION=3.11
# Google publishes the Flex Template launcher under moving tags: pin a digest for a release.
ARG LAUNCHER_IMAGE=gcr.io/dataflow-templates-base/python311-template-launcher-base:latest
# Beam's worker boot program, from the SDK image of the Beam version the `beam` extra installs.
ARG BEAM_SDK_IMAGE=apache/beam_python3.11_sdk:2.78.0

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

# ---- dataflow: one image as Flex Template launcher and as Dataflow's worker container -----
# Build with the beam extra (EXTRAS=gcp,beam). The launcher runs FLEX_TEMPLATE_PYTHON_PY_FILE;
# the workers start Beam's boot program, which must be the entrypoint of an SDK container.
FROM ${LAUNCHER_IMAGE} AS launcher
FROM ${BEAM_SDK_IMAGE} AS beam

FROM runtime AS dataflow
COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher
COPY --from=beam /opt/apache/beam /opt/apache/beam
COPY --chown=10001:10001 deploy/dataflow/ /home/trackline/dataflow/
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/home/trackline/dataflow/main.py \
    PIP_NO_DEPS=True
ENTRYPOINT ["/opt/apache/beam/boot"]
