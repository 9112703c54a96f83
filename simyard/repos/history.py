"""Functions and methods of a Python file, their past versions in git, and splicing one version into a file.

The scenario builder asks two questions of a repository, both answered here with Python's `ast`:

- which functions and methods a file defines, each with its exact source text (`functions_in`), and
- which past versions of them differ from the world state inside a file whose context also changed (`walk_history`).

Choices (SyncBench's differ; each is deliberate):

- **Async functions count.** SyncBench visits only `ast.FunctionDef`; an `async def` is as much a unit of code as a
  `def`, and repositories such as FastAPI are full of them. `walk_history(include_async=False)` restores SyncBench's
  choice.
- **Decorators belong to the function.** SyncBench's text (`ast.get_source_segment`) leaves them out, so a changed
  decorator cannot be expressed. Our text runs from the first decorator to the last line of the body; `splice`
  accepts code with or without decorators (without: the target's decorators stay), so SyncBench's published code
  splices too.
- **Qualified names.** Methods are `Class.method` (`Outer.Inner.method` for nested classes); a name defined twice in
  one scope (a property's getter and setter) gets `#2`, `#3` so every key names one definition. Functions nested in
  functions are not units of their own: a change to one is a change to its enclosing function.
- **"The context changed" means outside the function.** SyncBench requires only that the whole file differ, which a
  differing function already implies. We require the file *without the function* to differ between the old commit
  and the world state (`require_context_change`), which is what the collaborator's change means.
- **Identical old versions are one candidate.** The workspace is the world state with one function rolled back, so
  two commits holding the same old text give the same scenario; the newest such commit is kept (dedupe).
- **A gold version that also existed before the belief commit is skipped**: the agent's own history would hold the
  answer, and the workspace promises that the world's code is unreachable before a fetch.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "Candidate",
    "FunctionSource",
    "functions_in",
    "remove_function",
    "splice",
    "strip_decorators",
    "walk_history",
]


@dataclass(frozen=True, slots=True)
class FunctionSource:
    """One function or method as written in a file.

    Attributes:
        qualname: `name`, `Class.method`, `Outer.Inner.method`; `#2` marks a second definition of a name in a scope.
        name: The bare name (SyncBench's `fm_name`).
        kind: `function` or `method` (SyncBench's `fm_type`).
        is_async: Whether it is an `async def`.
        start: First line (1-based), the first decorator's when there are decorators.
        def_line: The `def` line.
        end: Last line of the body.
        indent: The indentation of the `def` line.
        code: Lines `start..end` with `indent` removed from each line that has it, except lines inside a
            multi-line string (their text is the string's; `splice` leaves them alone too).
    """

    qualname: str
    name: str
    kind: str
    is_async: bool
    start: int
    def_line: int
    end: int
    indent: str
    code: str


def functions_in(source: str) -> dict[str, FunctionSource]:
    """Every module-level function and every method (classes at any depth) in `source`, by qualified name.

    Raises:
        SyntaxError: `source` does not parse (callers skip such versions, as SyncBench does).
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found: dict[str, FunctionSource] = {}
    _collect(tree.body, "", False, lines, _string_continuation_lines(source), found)
    return found


def _collect(body: list[ast.stmt], prefix: str, in_class: bool, lines: list[str], in_string: set[int],
             found: dict[str, FunctionSource]) -> None:
    for node in body:
        if isinstance(node, ast.ClassDef):
            _collect(node.body, f"{prefix}{node.name}.", True, lines, in_string, found)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            qualname = prefix + node.name
            count = 2
            while qualname in found:
                qualname = f"{prefix}{node.name}#{count}"
                count += 1
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            def_text = lines[node.lineno - 1]
            indent = def_text[: len(def_text) - len(def_text.lstrip())]
            # A line that continues a multi-line string is the string's text: it keeps its indentation.
            code = "".join(line if number in in_string else _unindent(line, indent)
                           for number, line in enumerate(lines[start - 1:end], start))
            found[qualname] = FunctionSource(
                qualname=qualname, name=node.name, kind="method" if in_class else "function",
                is_async=isinstance(node, ast.AsyncFunctionDef), start=start, def_line=node.lineno, end=end,
                indent=indent, code=code if code.endswith("\n") else code + "\n",
            )


def _unindent(line: str, indent: str) -> str:
    return line[len(indent):] if indent and line.startswith(indent) else line


def _find(source: str, function: str) -> tuple[list[str], FunctionSource]:
    """The target by qualified name, else the first definition (by line) with that bare name, as SyncBench's
    aligner finds `def name`; a `Class.method` name falls back to its last part."""
    found = functions_in(source)
    target = found.get(function)
    if target is None:
        bare = function.rsplit(".", 1)[-1].split("#", 1)[0]
        matches = sorted((f for f in found.values() if f.name == bare), key=lambda f: f.def_line)
        if not matches:
            raise KeyError(function)
        target = matches[0]
    return source.splitlines(keepends=True), target


def splice(source: str, function: str, code: str) -> str:
    """`source` with `function`'s definition replaced by `code`, re-indented to the target's indentation.

    `code` that starts with a decorator replaces the decorators too; code without decorators keeps the target's.

    Raises:
        KeyError: no such function in `source`.
        SyntaxError: `source` does not parse.
    """
    lines, target = _find(source, function)
    first = next((line for line in code.splitlines() if line.strip()), "")
    start = target.start if first.lstrip().startswith("@") else target.def_line
    inside = _string_continuation_lines(code)
    new = [target.indent + line if line.strip() and number not in inside else line
           for number, line in enumerate(code.splitlines(keepends=True), 1)]
    if new and not new[-1].endswith("\n"):
        new[-1] += "\n"
    return "".join(lines[: start - 1] + new + lines[target.end:])


def _string_continuation_lines(code: str) -> set[int]:
    """Lines (1-based) that continue a multi-line string: their text is the string's, so they get no indent."""
    lines: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.STRING or token.type in _FSTRING_TOKENS:
                lines.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    return lines


_FSTRING_TOKENS = {getattr(tokenize, name) for name in ("FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, name)}


def remove_function(source: str, function: str) -> str:
    """`source` without `function` (decorators included): SyncBench's "filtered context"."""
    lines, target = _find(source, function)
    return "".join(lines[: target.start - 1] + lines[target.end:])


def strip_decorators(code: str) -> str:
    """Function text from its `def` line on (SyncBench's `original_code`/`gold_code` have no decorators)."""
    try:
        functions = list(functions_in(code).values())
    except SyntaxError:
        return code
    if not functions:
        return code
    lines = code.splitlines(keepends=True)
    return "".join(lines[functions[0].def_line - 1:])


@dataclass(frozen=True, slots=True)
class Candidate:
    """A past version of a function that differs from the world state: a scenario before its tests are run.

    Attributes:
        file: Repository-relative path of the file holding the function.
        function: Qualified name (see `FunctionSource.qualname`).
        kind: `function` or `method`.
        is_async: Whether the world's version is an `async def`.
        belief_sha: The commit whose version of the function is the agent's stale belief.
        old_code: The function at `belief_sha`.
        gold_code: The function at the world state.
        belief_file: The whole file at `belief_sha`.
        world_file: The whole file at the world state.
    """

    file: str
    function: str
    kind: str
    is_async: bool
    belief_sha: str
    old_code: str
    gold_code: str
    belief_file: str
    world_file: str

    @property
    def name(self) -> str:
        return self.function.rsplit(".", 1)[-1].split("#", 1)[0]


def walk_history(repo, world_sha: str, files: Iterable[str], *, include_async: bool = True,
                 require_context_change: bool = True, dedupe: bool = True) -> Iterator[Candidate]:
    """Candidates from the history of `files` up to `world_sha`, newest commit first per file.

    Args:
        repo: A `git.Repo` holding `world_sha` and its history.
        world_sha: The world state (its version of each function is the gold code).
        files: Repository-relative `.py` paths that exist at `world_sha`.
        include_async: Also `async def` (SyncBench: no).
        require_context_change: The file without the function must differ between the two commits.
        dedupe: One candidate per distinct old version (the newest commit holding it).
    """
    world = repo.commit(world_sha)
    for path in files:
        try:
            world_text = _text_at(world, path)
            world_functions = functions_in(world_text)
        except (KeyError, SyntaxError, UnicodeDecodeError):
            continue
        versions: list[tuple[str, str, dict[str, FunctionSource]]] = []
        for commit in repo.iter_commits(world_sha, paths=path):
            if commit.hexsha == world.hexsha:
                continue
            try:
                text = _text_at(commit, path)
                versions.append((commit.hexsha, text, functions_in(text)))
            except (KeyError, SyntaxError, UnicodeDecodeError):
                continue
        yield from _candidates(path, world_text, world_functions, versions, include_async=include_async,
                               require_context_change=require_context_change, dedupe=dedupe)


def _candidates(path: str, world_text: str, world_functions: dict[str, FunctionSource],
                versions: list[tuple[str, str, dict[str, FunctionSource]]], *, include_async: bool,
                require_context_change: bool, dedupe: bool) -> Iterator[Candidate]:
    filtered_world: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for index, (sha, text, functions) in enumerate(versions):
        if text == world_text:
            continue
        for qualname, gold in world_functions.items():
            old = functions.get(qualname)
            if old is None or old.code == gold.code or (gold.is_async and not include_async):
                continue
            if dedupe and (qualname, old.code) in seen:
                continue
            if require_context_change:
                if qualname not in filtered_world:
                    filtered_world[qualname] = remove_function(world_text, qualname)
                if remove_function(text, qualname) == filtered_world[qualname]:
                    continue
            # The answer must not sit in the agent's own past (older versions of the same function).
            if any(qualname in older[2] and older[2][qualname].code == gold.code for older in versions[index + 1:]):
                continue
            seen.add((qualname, old.code))
            yield Candidate(file=path, function=qualname, kind=gold.kind, is_async=gold.is_async, belief_sha=sha,
                            old_code=old.code, gold_code=gold.code, belief_file=text, world_file=world_text)


def _text_at(commit, path: str) -> str:
    """The file at `commit` as text; KeyError when it is absent there."""
    return (commit.tree / path).data_stream.read().decode("utf-8")
