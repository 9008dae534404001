"""Known third-party deprecation notices are hidden once a model is loaded; nothing else is,
and the filters are installed once for the process (no `catch_warnings`, which races between
threads)."""

from __future__ import annotations

import logging
import threading
import warnings

from ragkit.generators.deprecations import silence_known_deprecations

KNOWN = "`is_gradient_checkpointing` is deprecated and will be removed in v6."


def test_only_the_known_notices_are_hidden(monkeypatch):
    import ragkit.generators.deprecations as module

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning shows ...
        monkeypatch.setattr(module, "_INSTALLED", False)
        silence_known_deprecations()  # ... but these, installed after (so ahead of it)
        warnings.warn(KNOWN, FutureWarning, stacklevel=1)
        warnings.warn("`other` is deprecated", FutureWarning, stacklevel=1)
        warnings.warn(KNOWN, UserWarning, stacklevel=1)  # same words, other category
    shown = [(w.category, str(w.message)) for w in caught]
    assert shown == [(FutureWarning, "`other` is deprecated"), (UserWarning, KNOWN)]


def test_installed_once_from_many_threads(monkeypatch):
    import ragkit.generators.deprecations as module

    with warnings.catch_warnings():
        before = len(warnings.filters)
        monkeypatch.setattr(module, "_INSTALLED", False)
        threads = [threading.Thread(target=silence_known_deprecations) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(warnings.filters) - before <= len(module._WARNINGS)


def test_the_known_transformers_log_line_is_dropped_and_others_kept():
    from transformers.utils import logging as hf_logging

    silence_known_deprecations()
    logger = hf_logging.get_logger("transformers.utils.generic")
    handler = logging.getLogger("transformers").handlers[0]
    seen: list[str] = []
    original = handler.emit
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    try:
        logger.warning("`past_key_values`/`cache_params` are deprecated. Use `cache` instead.")
        logger.warning("something real went wrong")
    finally:
        handler.emit = original  # type: ignore[method-assign]
    assert seen == ["something real went wrong"]
