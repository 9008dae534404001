"""Known third-party deprecation notices are hidden around our model calls; nothing else is."""

from __future__ import annotations

import logging
import warnings

from ragkit.generators.deprecations import known_deprecations_silenced

KNOWN = "`is_gradient_checkpointing` is deprecated and will be removed in v6."


def test_only_the_known_notices_are_hidden_and_only_inside():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with known_deprecations_silenced():
            warnings.warn(KNOWN, FutureWarning, stacklevel=1)
            warnings.warn("`other` is deprecated", FutureWarning, stacklevel=1)
            warnings.warn(KNOWN, UserWarning, stacklevel=1)  # same words, other category
        warnings.warn(KNOWN, FutureWarning, stacklevel=1)  # outside: shown again
    shown = [(w.category, str(w.message)) for w in caught]
    assert shown == [
        (FutureWarning, "`other` is deprecated"),
        (UserWarning, KNOWN),
        (FutureWarning, KNOWN),
    ]


def test_the_known_transformers_log_line_is_dropped_and_others_kept(caplog):
    from transformers.utils import logging as hf_logging

    logger = hf_logging.get_logger("transformers.utils.generic")
    handler = logging.getLogger("transformers").handlers[0]
    seen: list[str] = []
    original = handler.emit
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    try:
        with known_deprecations_silenced():
            logger.warning("`past_key_values`/`cache_params` are deprecated. Use `cache` instead.")
            logger.warning("something real went wrong")
        logger.warning("`past_key_values`/`cache_params` are deprecated. Use `cache` instead.")
    finally:
        handler.emit = original  # type: ignore[method-assign]
    assert seen == [
        "something real went wrong",
        "`past_key_values`/`cache_params` are deprecated. Use `cache` instead.",
    ]
