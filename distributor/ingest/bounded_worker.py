"""The child process of a bounded parse (bounded.py): reads (raw, language,
url_template, memory limit) pickled on stdin, limits its own address space,
parses, and answers (status, value) pickled on stdout."""

from __future__ import annotations

import pickle
import sys

from distributor.errors import ParseError
from distributor.ingest import bounded
from distributor.ingest.parse import parse_inline
from distributor.model import Article


def main() -> None:
    raw, default_language, url_template, memory = pickle.load(sys.stdin.buffer)
    bounded.PARSE_MEMORY_BYTES = memory  # for the message
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):
        pass  # no rlimits on this platform: the time bound still holds
    answer: tuple[str, Article | str]
    try:
        answer = ("ok", parse_inline(raw, default_language, url_template))
    except ParseError as exc:
        answer = ("error", str(exc))
    except MemoryError:
        answer = ("error", bounded.over_memory(raw))
    sys.stdout.buffer.write(pickle.dumps(answer))


if __name__ == "__main__":
    main()
