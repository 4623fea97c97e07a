# The gateway: `python -m gateway` (gRPC 50051, HTTP/JSON 8080, metrics 9091).
# Build from the repository root (`make images`):
#   docker build -f docker/gateway.Dockerfile -t veritas-gateway:0.1.0 .
# Slim and pinned: Python 3.11.7 (the interpreter the project is tested on),
# only the packages this service imports (docker/requirements/gateway.txt) at the versions of
# requirements.lock, run as an unprivileged user. Copies the runtime (veritas/) and this
# deployable only, without any tests/ folder (tests/test_docker.py checks both).

FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /build/requirements.lock
COPY docker/requirements/ /build/requirements/
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -r /build/requirements/gateway.txt -c /build/requirements.lock
COPY veritas/ /app/veritas/
COPY gateway/ /app/gateway/
RUN find /app \( -name tests -o -name __pycache__ \) -type d -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /app

FROM python:3.11.7-slim-bookworm
RUN groupadd --gid 10001 veritas \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin veritas
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    VERITAS_HOST=0.0.0.0
WORKDIR /app
USER 10001:10001
EXPOSE 50051 9091 8080
CMD ["python", "-m", "gateway"]
