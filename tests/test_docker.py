"""The images (docker/*.Dockerfile), checked without a Docker engine (none runs here).

Each deployable's image must be slim, pinned and non-root, run the module the chart runs,
and install every third-party package its code imports: the import graph of the
deployable (its own package, the veritas runtime it uses, and for the gateway the `helm
test` script that runs in its image) is walked with `ast` and compared with what
docker/requirements/<name>.txt installs, dependencies included, at requirements.lock's pins.
An image ships only the runtime and its own deployable (the model-repository image only
models/repository): what each COPY brings from the build context, less what .dockerignore
leaves out, holds no tools, models, samples, benchmarks, other service or any tests/ folder.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from veritas.config import DEFAULT_METRICS_PORTS, DEFAULT_PORTS

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
FIRST_PARTY = {
    "veritas",
    "services",
    "fusion",
    "gateway",
    "samples",
    "models",
    "tools",
    "benchmarks",
    "tests",
}
# What no service image may ship (the model-repository image ships models/repository only).
NEVER_SHIPPED = ("tools", "models", "samples", "benchmarks", "tests")
DEPLOYABLES = {
    "gateway": "gateway",
    "fusion": "fusion",
    "vision": "services.vision",
    "audio": "services.audio",
    "text": "services.text",
    "physiology": "services.physiology",
}
# Extra entry points that run inside an image besides its service.
EXTRA_ENTRIES = {"gateway": [ROOT / "helm" / "veritas" / "files" / "smoke_test.py"]}
# Import names whose distribution metadata does not list them as a top-level package.
IMPORT_TO_DIST = {"dlib": "dlib-bin", "parselmouth": "praat-parselmouth"}


def _lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _requirement_lines(path: Path) -> list[str]:
    """Requirement specifiers of a pip requirements file, following `-r` includes."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            lines += _requirement_lines(path.parent / line[3:].strip())
        else:
            lines.append(line)
    return lines


def _installed_closure(specs: list[str]) -> set[str]:
    """Distributions pip installs for `specs`, dependencies included (from this venv's
    metadata, which holds the same pinned versions)."""
    seen: set[str] = set()
    todo = [(Requirement(s), "") for s in specs]
    while todo:
        req, extra = todo.pop()
        env = {"extra": extra}
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        extras = sorted(req.extras)
        key = name + "[" + ",".join(extras) + "]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        for dep in metadata.distribution(name).requires or []:
            dep_req = Requirement(dep)
            for e in extras or [""]:
                todo.append((dep_req, e))
    return {s for s in seen if "[" not in s}


@cache
def _module_to_dists() -> dict[str, list[str]]:
    return {
        k: [canonicalize_name(d) for d in v] for k, v in metadata.packages_distributions().items()
    }


def _module_file(module: str) -> Path | None:
    base = ROOT / Path(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def import_closure(entries: list[Path]) -> tuple[set[Path], set[str]]:
    """(first-party files reached, third-party top-level modules imported) from `entries`."""
    files: set[Path] = set()
    third: set[str] = set()
    todo = list(entries)
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in FIRST_PARTY:
                    parts = name.split(".")
                    for i in range(1, len(parts) + 1):
                        found = _module_file(".".join(parts[:i]))
                        if found is not None:
                            todo.append(found)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    third.add(top)
    return files, third


def _dockerfile(name: str) -> str:
    return (DOCKER / f"{name}.Dockerfile").read_text()


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _sources(name: str) -> list[str]:
    """The build-context paths a Dockerfile's COPY instructions take (not `--from` stages)."""
    return [
        src.rstrip("/")
        for word, rest in _instructions(_dockerfile(name))
        if word == "COPY" and not rest.startswith("--from")
        for src in rest.split()[:-1]
    ]


def _ignore_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore line as a regex over a root-relative path (`**` any directories,
    `*` and `?` within one path element, as Docker matches them)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@cache
def _ignore_patterns() -> tuple[re.Pattern[str], ...]:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line.strip("/") for line in lines if line and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions: teach _ignored them"
    return tuple(_ignore_pattern(p) for p in patterns)


def _ignored(rel: str) -> bool:
    """Left out of the build context: the path, or a folder above it, matches a pattern."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(p.fullmatch(prefix) for p in _ignore_patterns() for prefix in prefixes)


def _shipped(name: str) -> set[str]:
    """The repository files an image's COPY instructions bring in, .dockerignore applied."""
    files = set()
    for src in _sources(name):
        path = ROOT / src
        candidates = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files |= {p.relative_to(ROOT).as_posix() for p in candidates}
    return {rel for rel in files if not _ignored(rel)}


def _pinned_image(ref: str) -> bool:
    """An exact version tag (with a digit, not latest) or a sha256 digest."""
    if "@sha256:" in ref:
        return True
    name = ref.rsplit("/", 1)[-1]
    if ":" not in name:
        return False
    tag = name.split(":", 1)[1]
    return tag != "latest" and any(ch.isdigit() for ch in tag)


@pytest.mark.parametrize("name", [*DEPLOYABLES, "model-repository"])
def test_images_are_pinned_and_unprivileged(name: str) -> None:
    steps = _instructions(_dockerfile(name))
    stages = [rest.split()[0] for word, rest in steps if word == "FROM"]
    assert stages and all(_pinned_image(s) for s in stages), stages
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    users = [rest for word, rest in steps[last_from:] if word == "USER"]
    assert users, "the final stage must drop root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric non-root uid (runAsNonRoot checks it)"


@pytest.mark.parametrize("name", DEPLOYABLES)
def test_image_runs_the_service(name: str) -> None:
    steps = _instructions(_dockerfile(name))
    cmd = [rest for word, rest in steps if word == "CMD"][-1]
    assert cmd == f'["python", "-m", "{DEPLOYABLES[name]}"]'
    exposed = {int(p) for word, rest in steps if word == "EXPOSE" for p in rest.split()}
    assert {DEFAULT_PORTS[name], DEFAULT_METRICS_PORTS[name]} <= exposed
    assert any(word == "FROM" and "slim" in rest for word, rest in steps)
    installs = " ".join(rest for word, rest in steps if word == "RUN")
    assert f"-r /build/requirements/{name}.txt -c /build/requirements.lock" in installs


@pytest.mark.parametrize("name", DEPLOYABLES)
def test_image_requirements_are_pinned(name: str) -> None:
    pins = _lock_pins()
    top_pins = {
        canonicalize_name(Requirement(line).name): str(Requirement(line).specifier)
        for line in _requirement_lines(ROOT / "requirements.txt")
    }
    for spec in _requirement_lines(DOCKER / "requirements" / f"{name}.txt"):
        req = Requirement(spec)
        key = canonicalize_name(req.name)
        if req.specifier:
            assert top_pins.get(key) == str(req.specifier), f"{spec}: not requirements.txt's pin"
        else:
            assert key in pins, f"{spec}: not pinned in requirements.lock"


@pytest.mark.parametrize("name", DEPLOYABLES)
def test_image_installs_everything_its_code_imports(name: str) -> None:
    main = _module_file(DEPLOYABLES[name] + ".__main__")
    assert main is not None
    files, third = import_closure([main, *EXTRA_ENTRIES.get(name, [])])
    installed = _installed_closure(_requirement_lines(DOCKER / "requirements" / f"{name}.txt"))
    missing = {}
    for module in sorted(third):
        dists = _module_to_dists().get(module) or [
            canonicalize_name(IMPORT_TO_DIST.get(module, "?"))
        ]
        if not set(dists) & installed:
            missing[module] = dists
    assert missing == {}, f"imported by {name} but not installed in its image"

    # ... and the image ships every first-party file the service reaches.
    shipped = _shipped(name)
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if path.is_relative_to(ROOT / "helm"):
            continue  # mounted by the helm test, not baked in
        assert rel in shipped, f"{rel} not copied (or left out by .dockerignore)"


@pytest.mark.parametrize("name", DEPLOYABLES)
def test_image_copies_only_the_runtime_and_its_own_service(name: str) -> None:
    own = DEPLOYABLES[name].replace(".", "/")
    allowed = {"requirements.lock", "docker/requirements", "veritas", own}
    if own.startswith("services/"):
        allowed.add("services/__init__.py")  # the package itself, shared by the services
    extra = sorted(set(_sources(name)) - allowed)
    assert extra == [], f"the {name} image copies {extra}"
    shipped = _shipped(name)
    assert {"veritas/config.py", f"{own}/__main__.py"} <= shipped
    for rel in sorted(shipped):
        parts = rel.split("/")
        assert "tests" not in parts[:-1], f"{rel}: a test in the {name} image"
        assert parts[0] not in NEVER_SHIPPED, f"{rel}: {parts[0]}/ in the {name} image"
        if parts[0] == "services":
            assert rel == "services/__init__.py" or rel.startswith(own + "/"), (
                f"{rel}: another service in the {name} image"
            )


def test_model_repository_image_ships_only_the_repository() -> None:
    assert _sources("model-repository") == ["models/repository"]
    shipped = _shipped("model-repository")
    assert shipped and all(rel.startswith("models/repository/") for rel in shipped)
    assert any(rel.endswith("/model.onnx") for rel in shipped)


@pytest.mark.parametrize(
    ("rel", "ignored"),
    [
        ("veritas/tests/test_cache.py", True),
        ("services/vision/tests/conftest.py", True),
        ("services/vision/__pycache__/face.cpython-311.pyc", True),
        ("tools/cli.py", True),
        ("tests/test_docker.py", True),
        ("veritas/config.py", False),
        ("services/vision/features.py", False),
        ("models/repository/text_deception/config.pbtxt", False),
    ],
)
def test_dockerignore_is_read_as_docker_reads_it(rel: str, ignored: bool) -> None:
    assert _ignored(rel) is ignored


def test_closure_catches_a_missing_package(tmp_path: Path) -> None:
    entry = tmp_path / "entry.py"
    entry.write_text("import yaml\nfrom veritas.config import env\n")
    files, third = import_closure([entry])
    assert "yaml" in third and ROOT / "veritas" / "config.py" in files
    installed = _installed_closure(_requirement_lines(DOCKER / "requirements" / "fusion.txt"))
    assert not set(_module_to_dists()["yaml"]) & installed


def test_model_repository_image_ships_the_production_repository() -> None:
    steps = _instructions(_dockerfile("model-repository"))
    assert ("COPY", "models/repository /models") in steps
    assert [rest for word, rest in steps if word == "CMD"][-1] == (
        '["cp", "-R", "/models/.", "/model-repository/"]'
    )
