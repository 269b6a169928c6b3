"""The layers run one way (docs/DEVELOPING.md): canonical <- crypto <- formats <- roles, and no
role imports another role's internals. Read from the source, so that an import that climbs
back up fails here, wherever it hides (inside a function too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
# i18n (the translation catalogs) sits at the bottom beside canonical: any layer may say things
LAYERS = {"canonical": 0, "i18n": 0, "crypto": 1, "formats": 2}
ROLES = {"ceremonies", "collector", "voter_app", "tallier", "verifier"}
# the trustees' decryption ceremony runs the verifier before decrypting: that is its purpose
ALLOWED_ROLE_IMPORTS = {("ceremonies", "verifier")}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_libraries_import_only_layers_below_them() -> None:
    climbing = []
    for package, level in LAYERS.items():
        for path in _package_files(package):
            for imported in _imports(path):
                above = LAYERS.get(imported, -1) > level
                if above or imported in ROLES or imported in {"ivote", "bench"}:
                    climbing.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not climbing, climbing


def test_no_role_imports_another_role() -> None:
    crossing = []
    for role in ROLES:
        for path in _package_files(role):
            for imported in _imports(path) & ROLES - {role}:
                if (role, imported) not in ALLOWED_ROLE_IMPORTS:
                    crossing.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not crossing, crossing


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tallier.process import x\n    import formats.record\n")
    assert _imports(module) == {"tallier", "formats"}
