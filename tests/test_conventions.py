"""The architecture rules of DESIGN.md that code review alone would let slip."""

import ast
from pathlib import Path

from flask_wtf.csrf import CSRFProtect

from portal.settings import ROOT

FEATURES = ("mail", "notices")


def imported_modules(path: Path) -> list[tuple[str, ast.AST, list[ast.AST]]]:
    """(module, import node, enclosing function nodes) for every import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node, functions):
        for child in ast.iter_child_nodes(node):
            inner = functions + [child] if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else functions
            if isinstance(child, ast.Import):
                found.extend((alias.name, child, inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.extend([(child.module, child, inner)] + [(f"{child.module}.{a.name}", child, inner) for a in child.names])
            visit(child, inner)

    visit(tree, [])
    return found


def top_package(module: str) -> str:
    return module.split(".")[0]


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_features_never_import_each_other():
    for feature in FEATURES:
        others = set(FEATURES) - {feature}
        for path in python_files(feature):
            for module, _node, _functions in imported_modules(path):
                assert top_package(module) not in others, f"{path} imports {module}"


def test_portal_imports_features_only_inside_create_app():
    for path in python_files("portal"):
        for module, _node, functions in imported_modules(path):
            if top_package(module) in FEATURES:
                assert path == ROOT / "portal" / "__init__.py" and [f.name for f in functions] == ["create_app"], (
                    f"{path} imports {module} outside create_app"
                )


def test_partial_templates_never_extend_a_layout():
    partials = sorted((ROOT / "templates").glob("*/partials/*.html"))
    for partial in partials:
        assert "{% extends" not in partial.read_text(), f"{partial} extends a layout"


def test_every_template_opens_with_a_comment_naming_its_context():
    for template in sorted((ROOT / "templates").rglob("*.html")):
        assert template.read_text().lstrip().startswith("{#"), f"{template} lacks its opening comment"


def test_every_state_changing_route_is_csrf_protected(app):
    csrf: CSRFProtect = app.extensions["csrf"]
    for rule in app.url_map.iter_rules():
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            view = app.view_functions[rule.endpoint]
            name = f"{view.__module__}.{view.__name__}"
            assert name not in csrf._exempt_views and view.__module__ not in csrf._exempt_blueprints, (
                f"{rule} is exempt from CSRF"
            )
    assert app.config.get("WTF_CSRF_ENABLED", True) and app.config.get("WTF_CSRF_CHECK_DEFAULT", True)


def test_modules_open_with_a_docstring():
    for package in ("portal", *FEATURES):
        for path in python_files(package):
            tree = ast.parse(path.read_text())
            assert ast.get_docstring(tree), f"{path} has no module docstring"
