"""Read a config file as data, without running it.

mmengine's ``Config.fromfile`` executes a ``.py`` config. A model folder
downloaded from the hub is someone else's file, so its ``config.py`` is
read here instead: every top-level statement must be ``name = value``
where the value is built from literals (strings, numbers, True, False,
None), lists, tuples, ``{...}`` and ``dict(key=value, ...)``. That is
what ``Config.dump`` writes for a resolved config. Anything else (an
import, a call, a name) is refused with its line, and nothing in the file
runs.
"""
import ast
from typing import Any, Dict

from mmengine.config import Config


def literal_value(node: ast.AST, where: str) -> Any:
    """The value of an expression made of literals, lists, tuples, dicts
    and ``dict(...)`` calls; anything else raises ValueError."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List):
        return [literal_value(n, where) for n in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(literal_value(n, where) for n in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {
            literal_value(k, where): literal_value(v, where)
            for k, v in zip(node.keys, node.values)
        }
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id == 'dict' and not node.args and \
            all(k.arg is not None for k in node.keywords):
        return {k.arg: literal_value(k.value, where) for k in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(
            node.op, (ast.USub, ast.UAdd)) and isinstance(
                node.operand, ast.Constant) and isinstance(
                    node.operand.value, (int, float)):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    raise ValueError(
        f'{where} line {node.lineno}: {ast.unparse(node)[:80]!r} is not a '
        'literal. A model folder\'s config is read as data and never run: '
        'write it with Config.dump (tools/model_converters/'
        'save_pretrained.py does) or replace the expression by its value.')


def read_literal_config(filename: str) -> Config:
    """``filename`` (a ``name = value`` Python config) as an mmengine
    ``Config``, without executing it.

    Raises:
        ValueError: A statement is not ``name = <literal>``; the message
            names the file and line.
    """
    with open(filename, encoding='utf-8') as f:
        tree = ast.parse(f.read(), filename=filename)
    values: Dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value,
                                                     ast.Constant):
            continue  # a docstring or comment string
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            raise ValueError(
                f'{filename} line {stmt.lineno}: only "name = value" '
                'statements are read from a model folder\'s config (it is '
                f'never run); got {ast.unparse(stmt)[:80]!r}.')
        values[stmt.targets[0].id] = literal_value(stmt.value, filename)
    return Config(values, filename=filename)
