"""The one place templates are found, loaded and checked.

Search order for a template name, for an article in language `de`:

    <outlet templates_dir>/de/…   <outlet templates_dir>/…   templates/de/…   templates/…

and `default:<name>` reaches only the built-in ones, so an outlet's template can
`{% extends "default:telegram/article.html.j2" %}` and override one block.

Strict by design: StrictUndefined (a typo in a template is an error, never an
empty string), autoescape for `.html.j2`, a sandboxed environment (outlet
templates are data, not code). A broken template is a ConfigurationError that
names the file and the line.
"""

from __future__ import annotations

import os
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket
from jinja2.sandbox import SandboxedEnvironment

from distributor.config import Settings
from distributor.errors import ConfigurationError
from distributor.render import i18n

def _find_builtin() -> Path:
    """templates/ beside the package (a checkout, an editable install), else in
    the working directory (the Docker image copies it to /app/templates)."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (base / "templates" / "telegram" / "article.html.j2").is_file():
            return base / "templates"
    return Path(__file__).resolve().parents[2] / "templates"  # reported missing on use


BUILTIN_DIR = _find_builtin()

def _autoescape(name: str | None) -> bool:
    return bool(name) and name.endswith((".html.j2", ".html"))  # type: ignore[union-attr]


class Templates:
    """Environments per language over the outlet's and the built-in templates."""

    def __init__(self, outlet_dir: Path | None = None, builtin_dir: Path = BUILTIN_DIR):
        self.outlet_dir = outlet_dir
        self.builtin_dir = builtin_dir

    @classmethod
    def from_settings(cls, settings: Settings) -> Templates:
        d = settings.render.templates_dir
        outlet = settings.resolve(d) if d else None
        if outlet is not None and not outlet.is_dir():
            raise ConfigurationError(f"{settings.path}: [render] templates_dir {str(outlet)!r} is not a directory")
        return _cached(outlet, BUILTIN_DIR)

    def search_path(self, language: str) -> list[Path]:
        dirs = []
        for base in (self.outlet_dir, self.builtin_dir):
            if base is not None:
                dirs += [base / language, base]
        return dirs

    @lru_cache(maxsize=16)
    def env(self, language: str) -> jinja2.Environment:
        builtin = [self.builtin_dir / language, self.builtin_dir]
        loader = jinja2.ChoiceLoader([
            jinja2.FileSystemLoader([str(p) for p in self.search_path(language)]),
            jinja2.PrefixLoader({"default": jinja2.FileSystemLoader([str(p) for p in builtin])}, delimiter=":"),
        ])
        env = SandboxedEnvironment(
            loader=loader,
            bytecode_cache=_bytecode_cache(),
            undefined=jinja2.StrictUndefined,
            autoescape=_autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        env.globals["t"] = i18n.strings(language)
        env.globals["lang"] = language
        env.filters["date"] = lambda value: i18n.format_date(value, language)
        return env

    def render(self, language: str, name: str, /, **context: Any) -> str:
        """Render one template; any template fault becomes a ConfigurationError
        naming the file and line."""
        try:
            return self.env(language).get_template(name).render(**context)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigurationError(syntax_error_at(exc)) from None
        except jinja2.TemplateNotFound as exc:
            raise ConfigurationError(f"template not found: {exc.name} (searched {', '.join(map(str, self.search_path(language)))})") from None
        except (jinja2.UndefinedError, jinja2.TemplateError) as exc:
            raise ConfigurationError(f"{_where_runtime(exc, name)}: {exc}") from None


class _BuiltinBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's cache on disk for the built-in templates only (an outlet's,
    and the throwaway ones of tests, compile in memory as before)."""

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None,
                   source: str) -> Bucket:
        if filename is None or not filename.startswith(f"{BUILTIN_DIR}{os.sep}"):
            return Bucket(environment, "", "")  # never loaded, never stored
        return super().get_bucket(environment, name, filename, source)

    def set_bucket(self, bucket: Bucket) -> None:
        if bucket.key:
            super().set_bucket(bucket)


@lru_cache(maxsize=1)
def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """The built-in templates compiled once and kept on disk between
    processes, as Python keeps .pyc files: compiling the digest's templates
    costs every fresh process (`digest --send`, the first scheduled issue
    after a restart) ~25 ms, loading them ~1 ms. An entry is used only for
    the same file with the same source (a sha1 of it) under the same Jinja
    and Python versions, so an edited template is compiled again. The
    directory is Jinja's per-user one under the temp dir (made 0700, refused
    if anyone else owns it), our entries with their own prefix. None, and
    every template compiles in memory, where no safe directory can be had."""
    try:
        return _BuiltinBytecodeCache(pattern="distributor-%s.cache")
    except (OSError, RuntimeError):
        return None


@lru_cache(maxsize=8)
def _cached(outlet: Path | None, builtin: Path) -> Templates:
    return Templates(outlet, builtin)


def display_path(path: str | None) -> str:
    if not path:
        return "<template>"
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def syntax_error_at(exc: jinja2.TemplateSyntaxError) -> str:
    return f"{display_path(exc.filename or exc.name)}:{exc.lineno}: {exc.message}"


def _where_runtime(exc: BaseException, name: str) -> str:
    """file:line of the innermost template frame of a render-time error."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".j2", ".html", ".txt")):
            return f"{display_path(frame.filename)}:{frame.lineno}"
    return name
