"""The built-in templates are compiled once and kept on disk between
processes (Jinja's bytecode cache, render/env.py): a fresh process loads
them instead of compiling, an edited template is compiled again, and an
outlet's templates are never written there."""

from __future__ import annotations

import jinja2

from distributor.render import env as env_module
from distributor.render.env import Templates


def test_builtin_templates_compile_once_and_an_edit_compiles_again(tmp_path, monkeypatch):
    builtin, outlet, cache_dir = tmp_path / "builtin", tmp_path / "outlet", tmp_path / "cache"
    (builtin / "email").mkdir(parents=True)
    (outlet / "email").mkdir(parents=True)
    cache_dir.mkdir()
    template = builtin / "email" / "hello.txt.j2"
    template.write_text("Hallo {{ name }}", encoding="utf-8")
    (outlet / "email" / "own.txt.j2").write_text("Eigen {{ name }}", encoding="utf-8")
    cache = env_module._BuiltinBytecodeCache(directory=str(cache_dir), pattern="distributor-%s.cache")
    monkeypatch.setattr(env_module, "BUILTIN_DIR", builtin)
    monkeypatch.setattr(env_module, "_bytecode_cache", lambda: cache)
    compiled: list[str | None] = []
    compile_ = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return compile_(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)

    def fresh() -> Templates:  # a new process: new environments, nothing in memory
        return Templates(outlet, builtin)

    assert fresh().render("de", "email/hello.txt.j2", name="A") == "Hallo A"
    assert compiled == ["email/hello.txt.j2"] and len(list(cache_dir.iterdir())) == 1
    assert fresh().render("de", "email/hello.txt.j2", name="B") == "Hallo B"
    assert compiled == ["email/hello.txt.j2"]  # loaded, not compiled
    template.write_text("Servus {{ name }}", encoding="utf-8")
    assert fresh().render("de", "email/hello.txt.j2", name="C") == "Servus C"
    assert compiled == ["email/hello.txt.j2"] * 2
    for _ in range(2):
        assert fresh().render("de", "email/own.txt.j2", name="D") == "Eigen D"
    assert compiled[2:] == ["email/own.txt.j2"] * 2  # an outlet's template: compiled each time, never stored
    assert len(list(cache_dir.iterdir())) == 1
