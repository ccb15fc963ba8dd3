"""A presented API key is never compared with a stored one by `==`, whose time depends on
how many leading characters match: its SHA-256 is looked up (the database's index on
`key_hash`, the key cache's dict), which tells a guesser nothing about a real key. Any other
comparison of a secret must use `hmac.compare_digest`; this test finds one written with
`==`, `!=` or `in`."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = ("plaintext", "digest", "key_hash", "secret", "api_key", "token", "credential")
# The one lookup by digest: a SQL condition on the indexed column, not a Python comparison.
SQL_LOOKUPS = {("app/auth/service.py", ("key_hash", "bindparam"))}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    return ""


def secret_comparisons(root: Path) -> list[str]:
    found = []
    for path in sorted((root / "app").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops):
                continue
            names = tuple(_name(n) for n in (node.left, *node.comparators))
            if (relative, names) in SQL_LOOKUPS:
                continue
            if any(word in name.lower() for name in names for word in SECRET_WORDS):
                found.append(f"{relative}:{node.lineno} compares {names}")
    return found


def test_no_secret_is_compared_with_equals() -> None:
    assert secret_comparisons(ROOT) == []


def test_the_check_finds_a_comparison_of_a_key(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "keys.py").write_text(
        "def same(stored_digest: str, presented: str) -> bool:\n"
        "    return presented == stored_digest\n",
        encoding="utf-8",
    )
    assert secret_comparisons(tmp_path) == ["app/keys.py:2 compares ('presented', 'stored_digest')"]
