"""Configuration from environment variables, with documented defaults.

Every process reads the same variable names; `make run` and the Helm chart set them per
service. The table in docs/configuration.md is generated from `VARIABLES` below, so the
documentation cannot drift from the code.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from veritas import modalities

REPO_ROOT = Path(__file__).resolve().parent.parent

# Default gRPC and Prometheus ports per service (loopback, for `make run`): the gateway,
# fusion, then the modality services in the table's order (veritas/modalities.py).
DEFAULT_PORTS: dict[str, int] = {
    name: 50051 + i for i, name in enumerate(("gateway", "fusion", *modalities.NAMES))
}
DEFAULT_METRICS_PORTS: dict[str, int] = {name: 9090 + i for i, name in enumerate(DEFAULT_PORTS, 1)}


def address_variable(service: str) -> str:
    """The variable holding where a service listens: VERITAS_<SERVICE>_ADDR."""
    return f"VERITAS_{service.upper()}_ADDR"


# name -> (default, meaning). Defaults written as "<per service>" come from the tables above.
VARIABLES: dict[str, tuple[str, str]] = {
    "VERITAS_HOST": ("127.0.0.1", "interface to listen on (0.0.0.0 in containers)"),
    "VERITAS_PORT": (
        "<per service>",
        "gRPC port: " + ", ".join(f"{name} {port}" for name, port in DEFAULT_PORTS.items()),
    ),
    "VERITAS_METRICS_PORT": (
        "<per service>",
        f"Prometheus /metrics port ({min(DEFAULT_METRICS_PORTS.values())}-"
        f"{max(DEFAULT_METRICS_PORTS.values())} in the same order); 0 disables",
    ),
    "VERITAS_TRITON_URL": ("127.0.0.1:8001", "Triton gRPC address (modality services)"),
    "VERITAS_TRITON_TIMEOUT_S": ("5", "deadline for one Triton inference"),
    "VERITAS_TRITON_MAX_IN_FLIGHT": (
        "1",
        "Triton calls at once per model per modality service; rows that arrive meanwhile go "
        "together as the next call's batch (veritas/triton_client.py)",
    ),
    "VERITAS_GATEWAY_ADDR": ("127.0.0.1:50051", "gateway address (CLI, SDK examples)"),
    "VERITAS_FUSION_ADDR": ("127.0.0.1:50052", "fusion address (gateway)"),
    **{
        address_variable(name): (
            f"127.0.0.1:{DEFAULT_PORTS[name]}",
            f"{name} service address (fusion)",
        )
        for name in modalities.NAMES
    },
    "VERITAS_MEDIA_URI_ALLOWLIST": (
        "",
        "comma-separated prefixes media URIs and the old API's paths must lie in: "
        "`file:///folder/` (inside the folder after symlinks) or `https://host[:port]/path/` "
        "(same scheme, host and port; path at a `/` boundary); empty: none (veritas/media_uri.py)",
    ),
    "VERITAS_MEDIA_FETCH_TIMEOUT_S": (
        "30",
        "longest one media fetch may take in total (connect, redirects, every read); "
        "the request's deadline caps it further",
    ),
    "VERITAS_MEDIA_FETCHES_PER_TENANT": (
        "2",
        "media fetches fusion runs at once per tenant; the tenant's others wait within "
        "their deadline",
    ),
    "VERITAS_FUSION_STACKER": (
        "",
        "trained stacker file for the STACKER strategy (fusion); empty: models/fusion/stacker.json",
    ),
    "VERITAS_DEFAULT_DEADLINE_S": ("30", "deadline when the caller sets none"),
    "VERITAS_MAX_DEADLINE_S": ("120", "longest deadline the gateway passes down"),
    "VERITAS_MAX_MESSAGE_MB": ("64", "largest gRPC message accepted (media travel inline)"),
    "VERITAS_MAX_CONNECTION_AGE_S": (
        "0",
        "servers close each client connection after about "
        "this many seconds (in-flight calls finish) so clients "
        "re-resolve DNS and reach new pods; 0: never",
    ),
    "VERITAS_SHUTDOWN_GRACE_S": ("10", "on SIGTERM: time allowed for in-flight calls"),
    "VERITAS_VISION_MAX_DURATION_S": ("600", "longest video the vision service decodes"),
    "VERITAS_VISION_MAX_BYTES": ("536870912", "largest video the vision service accepts"),
    "VERITAS_AUDIO_MAX_S": ("600", "longest recording the audio service decodes"),
    "VERITAS_ANALYSIS_PROCESSES": (
        "auto",
        "modality services whose measuring holds the interpreter lock (audio: Praat): worker "
        "processes that measure a final-only request's input; auto: min(2, usable cores: "
        "affinity capped by the CPU limit), none on one core; N: N workers; 0: threads "
        "(veritas/analysis_pool.py)",
    ),
    "VERITAS_FEATURE_CACHE_MB": (
        "64",
        "modality services: memory for measured media seen again (audio: decoded recording "
        "and its features); 0 turns it off",
    ),
    "VERITAS_LIVE_MAX_PENDING": (
        "600",
        "live streams: most chunks waiting to be analysed per stream before RESOURCE_EXHAUSTED",
    ),
    "VERITAS_MODALITY_BATCH_CONCURRENCY": (
        "16",
        "modality services: items of one AnalyzeBatch call analysed at once (their model "
        "calls go to Triton together)",
    ),
    "VERITAS_DATA_DIR": (
        "../shared/data",
        "labelled data for `make models` and the benchmark's reviews; unset: `shared/data` "
        "beside the checkout, or beside the local checkout it was cloned from (data_dir)",
    ),
    "VERITAS_LOG_LEVEL": ("INFO", "log level of the JSON logs on stderr"),
    "VERITAS_TRACE_FILE": ("", "append finished spans as JSON lines to this file"),
    # gateway
    "VERITAS_AUTH": (
        "keys",
        "gateway authentication: comma-separated `keys`, `jwt`; `none` admits anonymous "
        "callers as tenant `local` (only with a loopback VERITAS_HOST: else it will not start)",
    ),
    "VERITAS_API_KEYS_FILE": (
        "",
        "JSON file of hashed API keys (`veritas keys`); re-read when it changes",
    ),
    "VERITAS_JWT_JWKS": ("", "JWKS for bearer tokens: an https:// URL or a file path"),
    "VERITAS_JWT_ISSUER": ("", "required `iss` of bearer tokens"),
    "VERITAS_JWT_AUDIENCE": ("", "required `aud` of bearer tokens"),
    "VERITAS_JWT_LEEWAY_S": ("30", "clock skew allowed on `exp`/`nbf`/`iat`"),
    "VERITAS_JWT_TENANT_CLAIM": ("tenant", "claim naming the caller's tenant"),
    "VERITAS_JWT_ROLES_CLAIM": ("roles", "claim listing the caller's roles (list or spaces)"),
    "VERITAS_REDIS_URL": (
        "",
        "Redis shared by gateway replicas for rate limits and usage; empty: per replica",
    ),
    "VERITAS_RATE_LIMIT_RPS": ("10", "token bucket refill per tenant, analyses per second"),
    "VERITAS_RATE_LIMIT_BURST": ("20", "token bucket size per tenant"),
    "VERITAS_MAX_STREAMS_PER_TENANT": ("4", "concurrent AnalyzeStream calls per tenant"),
    "VERITAS_MAX_REQUEST_MB": (
        "64",
        "largest request the gateway reads (gRPC message; HTTP body of /v1/*)",
    ),
    "VERITAS_MAX_LEGACY_REQUEST_KB": ("1024", "largest body of POST /api/analyze"),
    "VERITAS_GATEWAY_BUDGET_MS": (
        "50",
        "time the gateway keeps from the caller's deadline before passing it down",
    ),
    "VERITAS_MAX_STREAM_S": ("3600", "longest AnalyzeStream call"),
    "VERITAS_HTTP_PORT": ("8080", "gateway HTTP/JSON port; 0 disables"),
    "VERITAS_TLS_CERT": ("", "PEM certificate (chain) for the gateway's public ports"),
    "VERITAS_TLS_KEY": ("", "PEM private key for VERITAS_TLS_CERT"),
    "VERITAS_CACHE_MAX_MB": (
        "64",
        "gateway result cache: most memory held (answers, LRU); 0 turns the cache off",
    ),
    "VERITAS_CACHE_MAX_ENTRIES": ("10000", "gateway result cache: most answers held"),
    "VERITAS_CACHE_TTL_S": ("600", "gateway result cache: longest an answer is reused"),
    "VERITAS_CACHE_VERSIONS_MAX_AGE_S": (
        "0",
        "gateway result cache: how old Triton's model versions may be when a cached answer "
        "is checked against them; 0: read anew for every hit (a new model version is never "
        "answered from the cache)",
    ),
    "VERITAS_AUDIT_FILE": (
        "",
        "append the audit log (JSON lines) to this file; empty: to the service log",
    ),
    "VERITAS_API_KEY": ("", "API key the CLI and SDK examples send to the gateway"),
    # mutual TLS between services (all three, or none)
    "VERITAS_MTLS_CA": ("", "PEM CA that signs every service's certificate; set: mutual TLS"),
    "VERITAS_MTLS_CERT": ("", "this service's PEM certificate (server and client)"),
    "VERITAS_MTLS_KEY": ("", "this service's PEM private key"),
    "OTEL_EXPORTER_OTLP_ENDPOINT": ("", "OTLP/gRPC collector for traces; empty: no export"),
}


def data_dir(root: Path = REPO_ROOT) -> Path:
    """Where the labelled corpora are (training, evaluation, the benchmark's reviews):
    $VERITAS_DATA_DIR, else `shared/data` beside this checkout, else beside the local
    checkout it was cloned from (a fresh `git clone .` elsewhere on the same machine reads
    the same corpora; they are never copied)."""
    if "VERITAS_DATA_DIR" in os.environ:
        return Path(os.environ["VERITAS_DATA_DIR"])
    here = root.parent / "shared" / "data"
    if here.exists():
        return here
    done = subprocess.run(
        ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    )
    origin = Path(done.stdout.strip()) if done.returncode == 0 else None
    if origin is not None and origin.is_absolute() and origin.is_dir():
        beside = origin.resolve().parent / "shared" / "data"
        if beside.exists():
            return beside
    return here


def env(name: str, default: str | None = None) -> str:
    if default is None:
        default = VARIABLES[name][0]
    return os.environ.get(name, default)


@dataclass(frozen=True)
class ServiceConfig:
    """What every service process needs to start."""

    name: str
    host: str
    port: int
    metrics_port: int
    max_message_bytes: int
    shutdown_grace_s: float
    max_connection_age_s: float
    log_level: str
    otlp_endpoint: str
    trace_file: str

    @classmethod
    def from_env(cls, name: str) -> ServiceConfig:
        return cls(
            name=name,
            host=env("VERITAS_HOST"),
            port=int(os.environ.get("VERITAS_PORT", DEFAULT_PORTS[name])),
            metrics_port=int(os.environ.get("VERITAS_METRICS_PORT", DEFAULT_METRICS_PORTS[name])),
            max_message_bytes=int(float(env("VERITAS_MAX_MESSAGE_MB")) * 1024 * 1024),
            shutdown_grace_s=float(env("VERITAS_SHUTDOWN_GRACE_S")),
            max_connection_age_s=float(env("VERITAS_MAX_CONNECTION_AGE_S")),
            log_level=env("VERITAS_LOG_LEVEL"),
            otlp_endpoint=env("OTEL_EXPORTER_OTLP_ENDPOINT"),
            trace_file=env("VERITAS_TRACE_FILE"),
        )


def service_address(name: str) -> str:
    """Where a peer service listens, e.g. service_address("fusion")."""
    return env(address_variable(name))


def channel_options(max_message_bytes: int | None = None) -> list[tuple[str, int | str]]:
    """Client channel options: the 4 MiB default raised deliberately (media travel inline),
    and round robin over every address a `dns:///` target resolves to (headless Services
    in Kubernetes), so load spreads across pods instead of pinning to the first."""
    limit = max_message_bytes or int(float(env("VERITAS_MAX_MESSAGE_MB")) * 1024 * 1024)
    return [
        ("grpc.max_send_message_length", limit),
        ("grpc.max_receive_message_length", limit),
        ("grpc.lb_policy_name", "round_robin"),
        # A restarted peer is reachable again within a second (the default backoff grows
        # to two minutes, during which calls fail at once with UNAVAILABLE); a peer that is
        # still starting when first dialled, within a tenth of a second of listening.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]


def server_options(config: ServiceConfig) -> list[tuple[str, int]]:
    """Server options: message limits, and a maximum connection age (no grace: live streams
    are never cut) so clients reconnect and discover new pods."""
    options = [
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.max_receive_message_length", config.max_message_bytes),
    ]
    if config.max_connection_age_s > 0:
        options.append(("grpc.max_connection_age_ms", int(config.max_connection_age_s * 1000)))
    return options


def markdown_table() -> str:
    """docs/configuration.md's table (`python -m veritas.config > docs/configuration.md`)."""
    rows = [
        "# Configuration",
        "",
        "Every service reads these environment variables (generated from `veritas/config.py`;",
        "tests/test_docs.py fails when this file is stale).",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    rows += [f"| `{k}` | `{d}` | {m} |" for k, (d, m) in VARIABLES.items()]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
