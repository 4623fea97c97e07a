# The physiology service: `python -m services.physiology` (gRPC 50056, metrics 9096).
# Build from the repository root (`make images`):
#   docker build -f docker/physiology.Dockerfile -t veritas-physiology:0.1.0 .
# Slim and pinned: Python 3.11.7 (the interpreter the project is tested on),
# only the packages this service imports (docker/requirements/physiology.txt) at the versions of
# requirements.lock, run as an unprivileged user. Copies the runtime (veritas/) and this
# deployable only, without any tests/ folder (tests/test_docker.py checks both).

FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /build/requirements.lock
COPY docker/requirements/ /build/requirements/
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -r /build/requirements/physiology.txt -c /build/requirements.lock
COPY veritas/ /app/veritas/
COPY services/__init__.py /app/services/__init__.py
COPY services/physiology/ /app/services/physiology/
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
EXPOSE 50056 9096
CMD ["python", "-m", "services.physiology"]
