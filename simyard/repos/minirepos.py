"""Small git repositories with real history, generated from a seed, so the scenario builder and the `syncmind-mini`
suite run offline.

Each repository is a package (rectangles, a ledger and text helpers) with pytest tests, built in six commits by two
authors. The later commits change functions *and their callers* the way collaborators do (a signature becomes a
tuple, a method stops mutating and returns a new object, ledger entries grow a note, `slug` gains a separator, an
`async def` starts lower-casing), so rolling one function back breaks a test in the world state: exactly the
out-of-sync situations SyncBench mines from real projects. Some changes are behaviour-preserving (a refactor of
`perimeter`, a rewrite of `title_case`) so the builder's "must fail with the old version" filter has work to do.

The four test files import the package in each of the ways the builder resolves:

    tests/test_shapes.py   from PKG.shapes import Rect, area, perimeter
    tests/test_ledger.py   import PKG
    tests/test_text.py     import PKG as p
    tests/test_api.py      from PKG import Ledger, Rect, slug

Deterministic per seed: the seed picks the package name and the numbers in the tests, and every commit has fixed
author, committer and dates, so the same seed gives the same commit shas (with the same git).
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MiniRepo", "make_repo", "PACKAGE_NAMES"]

#: Package names, picked by seed.
PACKAGE_NAMES = ("tinykit", "boxwork", "ledgerly", "plainpkg", "shapeshop", "minitools", "quillset", "tallyho")

_AUTHORS = (("Alex Author", "alex@example.invalid"), ("Dana Collaborator", "dana@example.invalid"))


@dataclass(frozen=True, slots=True)
class MiniRepo:
    """What `make_repo` built.

    Attributes:
        path: The repository (a normal clone with a work tree on `main`).
        package: The package name.
        head: The sha of the last commit (the world state).
        commits: Every commit sha, oldest first.
    """

    path: Path
    package: str
    head: str
    commits: tuple[str, ...]


def make_repo(path: str | Path, seed: int = 0) -> MiniRepo:
    """Create a git repository with history at `path` (created; must not exist or be empty).

    Args:
        path: Where to create it.
        seed: Picks the package name and the test numbers; same seed, same shas.

    Raises:
        FileExistsError: `path` exists and is not empty.
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"{path} exists and is not empty")
    path.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = {
        "PKG": PACKAGE_NAMES[seed % len(PACKAGE_NAMES)],
        "W": str(rng.randint(2, 9)),
        "H": str(rng.randint(2, 9)),
        "A": str(rng.randint(10, 90)),
        "B": str(rng.randint(10, 90)),
    }
    _git(path, ["init", "-q", "-b", "main"])
    shas = []
    for index, (author, message, files) in enumerate(_COMMITS):
        for name, text in files.items():
            target = path / _fill(name, names)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_fill(text, names))
        _git(path, ["add", "-A"])
        stamp = f"{1709294400 + seed * 86400 + index * 3600} +0000"  # 2024-03-01 12:00 UTC + seed days + i hours
        who, email = _AUTHORS[author]
        env = {"GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": stamp,
               "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": stamp}
        _git(path, ["commit", "-q", "--no-verify", "-m", _fill(message, names)], env)
        shas.append(_git(path, ["rev-parse", "HEAD"]).strip())
    return MiniRepo(path=path, package=names["PKG"], head=shas[-1], commits=tuple(shas))


def _fill(text: str, names: dict[str, str]) -> str:
    for key in ("PKG", "W", "H", "A", "B"):
        text = text.replace(f"@{key}@", names[key])
    # Numbers the tests expect, computed here so each file reads as ordinary code.
    w, h, a, b = (int(names[k]) for k in "WHAB")
    for key, value in {"WH": w * h, "PER": 2 * (w + h), "W2": 2 * w, "H2": 2 * h, "AB": a + b}.items():
        text = text.replace(f"@{key}@", str(value))
    return text


def _git(path: Path, args: list[str], env: dict[str, str] | None = None) -> str:
    """Run git with the user's config and hooks out of the way, so the history depends on the seed alone."""
    full_env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}
    command = ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false",
               *args]
    return subprocess.run(command, cwd=path, env=full_env, check=True, capture_output=True, text=True).stdout


# --------------------------------------------------------------------------------------------- the history
# Placeholders: @PKG@ package, @W@/@H@ a rectangle, @A@/@B@ amounts; @WH@, @PER@, @W2@, @H2@, @AB@ derived.

_INIT = '''"""@PKG@: rectangles, a ledger and text helpers (generated by simyard for its repository worlds)."""

from @PKG@.ledger import Ledger
from @PKG@.shapes import Rect, area, perimeter
from @PKG@.text import fetch_words, slug, title_case

__all__ = ["Ledger", "Rect", "area", "fetch_words", "perimeter", "slug", "title_case"]
'''

_PYPROJECT = '''[project]
name = "@PKG@"
version = "0.1.0"

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
'''

_SHAPES_1 = '''"""Rectangles and their measures."""


def area(w, h):
    return w * h


def perimeter(w, h):
    return 2 * (w + h)


class Rect:
    def __init__(self, w, h):
        self.w = w
        self.h = h

    def area(self):
        return area(self.w, self.h)

    def scale(self, k):
        self.w *= k
        self.h *= k
'''

_SHAPES_2 = '''"""Rectangles and their measures. Sizes are (width, height) tuples."""


def area(size):
    w, h = size
    return w * h


def perimeter(size):
    w, h = size
    return 2 * (w + h)


class Rect:
    def __init__(self, w, h):
        self.w = w
        self.h = h

    def size(self):
        return (self.w, self.h)

    def area(self):
        return area(self.size())

    def scale(self, k):
        self.w *= k
        self.h *= k
'''

_SHAPES_3 = '''"""Rectangles and their measures. Sizes are (width, height) tuples; rectangles are values."""


def area(size):
    w, h = size
    return w * h


def perimeter(size):
    return 2 * sum(size)


class Rect:
    def __init__(self, w, h):
        self.w = w
        self.h = h

    def size(self):
        return (self.w, self.h)

    def area(self):
        return area(self.size())

    def scale(self, k):
        return Rect(self.w * k, self.h * k)

    def __repr__(self):
        return f"Rect({self.w}, {self.h})"
'''

_LEDGER_1 = '''"""A running ledger of amounts."""


class Ledger:
    def __init__(self):
        self.entries = []

    def add(self, amount):
        self.entries.append(amount)

    def total(self):
        return sum(self.entries)
'''

_LEDGER_4 = '''"""A running ledger of amounts, each with an optional note."""


class Ledger:
    def __init__(self):
        self.entries = []

    def add(self, amount, note=""):
        self.entries.append((amount, note))
        return self.total()

    def total(self):
        return sum(amount for amount, _ in self.entries)

    def notes(self):
        return [note for _, note in self.entries if note]
'''

_TEXT_1 = '''"""Text helpers."""


def slug(s):
    return s.lower().replace(" ", "-")


def title_case(s):
    return s.title()


async def fetch_words(s):
    return s.split()
'''

_TEXT_5 = '''"""Text helpers."""

import re


def slug(s, sep="-"):
    words = re.findall(r"[a-z0-9]+", s.lower())
    return sep.join(words)


def title_case(s):
    # str.title capitalises after apostrophes ("Don'T"); split on spaces instead
    return " ".join(word[:1].upper() + word[1:] for word in s.split(" "))


async def fetch_words(s):
    return [word.lower() for word in s.split()]
'''

_TEST_SHAPES_1 = '''from @PKG@.shapes import Rect, area, perimeter


def expected_area(w, h):
    return area(w, h)


def test_area():
    assert area(@W@, @H@) == @WH@


def test_perimeter():
    assert perimeter(@W@, @H@) == @PER@


def test_rect_area_matches_helper():
    assert Rect(@W@, @H@).area() == expected_area(@W@, @H@)


def test_scale_doubles():
    r = Rect(@W@, @H@)
    r.scale(2)
    assert (r.w, r.h) == (@W2@, @H2@)
'''

_TEST_SHAPES_2 = _TEST_SHAPES_1.replace("return area(w, h)", "return area((w, h))").replace(
    "area(@W@, @H@) ==", "area((@W@, @H@)) ==").replace("perimeter(@W@, @H@)", "perimeter((@W@, @H@))")

_TEST_SHAPES_3 = _TEST_SHAPES_2.replace('''def test_scale_doubles():
    r = Rect(@W@, @H@)
    r.scale(2)
    assert (r.w, r.h) == (@W2@, @H2@)
''', '''def test_scale_returns_new_rect():
    r = Rect(@W@, @H@)
    bigger = r.scale(2)
    assert (bigger.w, bigger.h) == (@W2@, @H2@)
    assert (r.w, r.h) == (@W@, @H@)
''')

_TEST_LEDGER_1 = '''import @PKG@


def make_ledger(*amounts):
    ledger = @PKG@.Ledger()
    for amount in amounts:
        ledger.add(amount)
    return ledger


def test_total():
    assert make_ledger(@A@, @B@).total() == @AB@


def test_empty_total():
    assert @PKG@.Ledger().total() == 0
'''

_TEST_LEDGER_4 = '''import @PKG@


def make_ledger(*amounts):
    ledger = @PKG@.Ledger()
    for amount in amounts:
        ledger.add(amount, note=f"item {amount}")
    return ledger


def test_total():
    assert make_ledger(@A@, @B@).total() == @AB@


def test_add_returns_running_total():
    assert @PKG@.Ledger().add(@A@, "first") == @A@


def test_notes():
    assert make_ledger(@A@).notes() == ["item @A@"]


def test_empty_total():
    assert @PKG@.Ledger().total() == 0
'''

_TEST_TEXT_1 = '''import asyncio

import @PKG@ as p


def test_slug():
    assert p.slug("Hello World") == "hello-world"


def test_title_case():
    assert p.title_case("hello world") == "Hello World"


def test_fetch_words():
    assert asyncio.run(p.fetch_words("Red Green")) == ["Red", "Green"]
'''

_TEST_TEXT_5 = '''import asyncio

import @PKG@ as p


def test_slug():
    assert p.slug("Hello, World!") == "hello-world"


def test_slug_separator():
    assert p.slug("Hello, World!", sep="_") == "hello_world"


def test_title_case():
    assert p.title_case("hello world") == "Hello World"


def test_fetch_words():
    assert asyncio.run(p.fetch_words("Red Green")) == ["red", "green"]
'''

_TEST_API_3 = '''from @PKG@ import Ledger, Rect, slug


def test_public_names():
    assert Rect(1, 2).scale(3).area() == 18
    assert Ledger().total() == 0
    assert slug("A B") == "a-b"
'''

_TEST_API_5 = '''from @PKG@ import Ledger, Rect, slug


def test_public_names():
    assert Rect(1, 2).scale(3).area() == 18
    assert Ledger().total() == 0
    assert slug("A B") == "a-b"


def test_slug_separator_is_public():
    assert slug("A B", sep="+") == "a+b"
'''

_README = '''# @PKG@

Rectangles, a running ledger and text helpers. Run the tests with `python -m pytest`.
'''

# (author index, message, files changed): Alex starts the project, Dana changes it under Alex's feet.
_COMMITS: tuple[tuple[int, str, dict[str, str]], ...] = (
    (0, "Start @PKG@: rectangles, a ledger, text helpers", {
        "pyproject.toml": _PYPROJECT, "@PKG@/__init__.py": _INIT, "@PKG@/shapes.py": _SHAPES_1,
        "@PKG@/ledger.py": _LEDGER_1, "@PKG@/text.py": _TEXT_1, "tests/test_shapes.py": _TEST_SHAPES_1,
        "tests/test_ledger.py": _TEST_LEDGER_1, "tests/test_text.py": _TEST_TEXT_1}),
    (1, "Sizes are (width, height) tuples", {"@PKG@/shapes.py": _SHAPES_2, "tests/test_shapes.py": _TEST_SHAPES_2}),
    (1, "Rect.scale returns a new rectangle; simpler perimeter", {
        "@PKG@/shapes.py": _SHAPES_3, "tests/test_shapes.py": _TEST_SHAPES_3, "tests/test_api.py": _TEST_API_3}),
    (1, "Ledger entries carry a note; add returns the running total", {
        "@PKG@/ledger.py": _LEDGER_4, "tests/test_ledger.py": _TEST_LEDGER_4}),
    (1, "slug drops punctuation and takes a separator; fetch_words lower-cases", {
        "@PKG@/text.py": _TEXT_5, "tests/test_text.py": _TEST_TEXT_5, "tests/test_api.py": _TEST_API_5}),
    (0, "README", {"README.md": _README}),
)
