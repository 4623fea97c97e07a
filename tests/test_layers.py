"""The import graph reads bottom-up: no room imports a room above it, tests included.

Rooms, lowest first (the README's "Layout" says why each sits where it does):

    veritas            the runtime every deployable imports (veritas.v1, the stubs, included)
    services           the package's own __init__, shared by the services
    services.<m>, fusion, gateway
                       the deployables: siblings, none imports another
    samples            the bundled inputs and the generators of known test data, which may
                       draw with a service's own code (the face generator uses vision's head
                       model); no service needs them
    models             model repository, training (fits on samples' simulated data), cards
    tools              the operator and developer tools (launcher, CLI, training command)
    benchmarks         measurement of the running mesh
    tests              tests that start processes or check the whole tree; nothing imports it

Every .py file below the rooms is parsed (ast), imports inside functions included, and a
file in a package's own tests/ counts as that package: veritas/tests may not import
services, services/<m>/tests may not import models. One exception, for test data: a unit
test may import a samples module whose own imports its room could make itself (vision's
tests may use the face generator, which imports only vision and the runtime; fusion's tests
may not, since that would reach vision through it).

The other half of where tests go: no unit test starts the mesh or Triton (those are in tests/).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first; services.<m>, fusion and gateway share a floor.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("veritas",),
    ("services",),
    ("services.*", "fusion", "gateway"),
    ("samples",),
    ("models",),
    ("tools",),
    ("benchmarks",),
    ("tests",),
)
SCANNED = ("veritas", "services", "fusion", "gateway", "samples", "models", "tools", "benchmarks")
TOP = {name.split(".")[0] for floor in FLOORS for name in floor}


def room(module: str) -> str | None:
    """The room a dotted module name lives in; None for anything not first-party."""
    parts = module.split(".")
    if parts[0] not in TOP:
        return None
    if parts[0] == "services" and len(parts) > 1:
        return f"services.{parts[1]}"
    return parts[0]


def floor(room_name: str) -> int:
    key = "services.*" if room_name.startswith("services.") else room_name
    return next(i for i, names in enumerate(FLOORS) if key in names)


def module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_unit_test(path: Path, root: Path) -> bool:
    """A file in a package's own tests/ folder (not the top-level tests/ room)."""
    parts = path.relative_to(root).parts
    return parts[0] != "tests" and "tests" in parts[1:-1]


def module_file(module: str, root: Path) -> Path | None:
    base = root / Path(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@dataclass(frozen=True)
class Import:
    line: int
    text: str  # the statement as written (for the message)
    module: str  # the first-party module it reaches


def imports(path: Path, root: Path) -> list[Import]:
    """Every import in `path` (at any depth, and importlib.import_module("literal") calls)."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    lines = source.splitlines()
    package = module_of(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this file's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from services import vision` reaches services.vision, not just services.
                sub = f"{base}.{alias.name}"
                targets.append(sub if module_file(sub, root) is not None else base)
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        first_party = [t for t in dict.fromkeys(targets) if room(t) is not None]
        if first_party:
            assert isinstance(node, ast.stmt | ast.expr)
            text = " ".join(" ".join(lines[node.lineno - 1 : node.end_lineno]).split())
            found += [Import(node.lineno, text, target) for target in first_party]
    return found


def allowed(src: str, dst: str) -> bool:
    return src == dst or floor(dst) < floor(src)


@cache
def reaches(module: str, root: Path) -> frozenset[str]:
    """The rooms a samples module reaches: its imports, following those inside samples."""
    seen: set[Path] = set()
    rooms: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        # Importing samples.x runs samples/__init__.py first.
        for i in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:i]), root)
            if path is None or path in seen:
                continue
            seen.add(path)
            for imp in imports(path, root):
                target = room(imp.module)
                assert target is not None
                if target == "samples":
                    todo.append(imp.module)
                else:
                    rooms.add(target)
    return frozenset(rooms)


def violations(root: Path, scanned: tuple[str, ...] = SCANNED) -> list[str]:
    found = []
    for top in scanned:
        for path in sorted((root / top).rglob("*.py")):
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            src = room(module_of(path, root))
            assert src is not None, path
            rel = path.relative_to(root).as_posix()
            for imp in imports(path, root):
                dst = room(imp.module)
                assert dst is not None
                if allowed(src, dst):
                    continue
                if (
                    dst == "samples"
                    and is_unit_test(path, root)
                    and all(allowed(src, r) for r in reaches(imp.module, root))
                ):
                    continue  # test data its own room could have made
                side = "a sibling" if floor(dst) == floor(src) else "a higher room"
                found.append(f"{rel}:{imp.line}: `{imp.text}`: {src} may not import {dst} ({side})")
    return found


def test_no_room_imports_a_room_above_it() -> None:
    assert violations(ROOT) == [], "\n" + "\n".join(violations(ROOT))


# What starts the mesh or Triton (tools/mesh.py, tools/triton_server.py): a test that does
# belongs in tests/, not beside the code (README, "Layout").
LAUNCHERS = {"Mesh", "TritonServer"}


def launches(root: Path, scanned: tuple[str, ...] = SCANNED) -> list[str]:
    """Unit tests (a package's own tests/) that start the mesh or Triton."""
    found = []
    for top in scanned:
        for path in sorted((root / top).rglob("*.py")):
            if not is_unit_test(path, root):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Call):
                    called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    if called in LAUNCHERS:
                        rel = path.relative_to(root).as_posix()
                        found.append(f"{rel}:{node.lineno}: starts {called}: move it to tests/")
    return found


def test_no_unit_test_starts_the_mesh_or_triton(tmp_path: Path) -> None:
    assert launches(ROOT) == [], "\n" + "\n".join(launches(ROOT))
    write(tmp_path, {"tools/tests/t.py": "def f():\n    server = TritonServer(root)\n"})
    assert launches(tmp_path) == ["tools/tests/t.py:2: starts TritonServer: move it to tests/"]


def test_every_scanned_room_exists_and_is_placed() -> None:
    for top in SCANNED:
        assert (ROOT / top / "__init__.py").is_file(), f"{top}/ is not a package"
    for path in (ROOT / "services").iterdir():
        if (path / "__init__.py").is_file():
            assert floor(room(f"services.{path.name}") or "") == floor("fusion")


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for top in SCANNED:
        (root / top).mkdir(exist_ok=True)


@pytest.mark.parametrize(
    ("rel", "text", "expected"),
    [
        ("veritas/x.py", "import services.vision.a\n", "veritas may not import services.vision"),
        (
            "veritas/tests/test_x.py",
            "def f():\n    from services.vision import a\n",
            "veritas/tests/test_x.py:2: `from services.vision import a`",
        ),
        ("services/audio/x.py", "from services.vision import a\n", "(a sibling)"),
        ("services/vision/tests/t.py", "from models import m\n", "may not import models"),
        ("fusion/x.py", "from samples import gen\n", "fusion may not import samples"),
        ("models/tests/t.py", "import tools.cli\n", "models may not import tools"),
        ("tools/x.py", "import importlib\nimportlib.import_module('tests.t')\n", "import tests"),
        ("fusion/tests/t.py", "from samples import face\n", "fusion may not import samples"),
    ],
)
def test_the_check_catches(tmp_path: Path, rel: str, text: str, expected: str) -> None:
    write(
        tmp_path,
        {
            "services/vision/a.py": "",
            "samples/face.py": "from services.vision import a\n",
            "samples/gen.py": "from veritas import v\n",
            "veritas/v.py": "",
            "models/m.py": "",
            "tools/cli.py": "",
            "tests/t.py": "",
            rel: text,
        },
    )
    found = violations(tmp_path)
    assert len(found) == 1 and expected in found[0], found


def test_the_check_allows(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "services/__init__.py": "",
            "services/vision/a.py": "import services\nfrom veritas import v\n",
            "services/vision/tests/t.py": "from samples import face\n",
            "services/audio/tests/t.py": "from samples import gen\nfrom . import h\n",
            "services/audio/tests/h.py": "",
            "samples/face.py": "from services.vision import a\n",
            "samples/gen.py": "from veritas import v\n",
            "veritas/v.py": "",
            "models/m.py": "from samples import gen\nfrom services.vision import a\n",
            "tools/cli.py": "from models import m\n",
            "benchmarks/b.py": "from tools import cli\n",
        },
    )
    assert violations(tmp_path) == []
