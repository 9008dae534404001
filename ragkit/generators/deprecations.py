"""Third-party deprecation notices silenced around our own model calls, and only those.

A user of `ragkit tune` or `ragkit ask --adapter` cannot act on transformers' or peft's notices
about their own internals (the notice quotes a line of their or our source, which reads as an
error). Each entry names one known message; anything else, warnings of ours and real errors
included, still shows. Scoped with `warnings.catch_warnings`, never a global filter.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# (category, message regex): warnings.warn notices from transformers 5 / peft 0.21.
_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    # peft reads the deprecated alias while preparing a model for training or loading.
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated"),
    # We pass a prefix adapter's keys and values as past_key_values on purpose (see
    # HFGenerator.run_generate); transformers 6 will want `cache=` there.
    (FutureWarning, r"`past_key_values` is deprecated and will be removed"),
    # peft's prompt / P-tuning forward drops position ids it does not need (no user action).
    (UserWarning, r"Position ids are not supported for parameter efficient tuning"),
)
# logger.warning notices (transformers logs these on its "transformers" handler).
_LOG_MESSAGES = re.compile(r"`past_key_values`/`cache_params` are deprecated")


class _DropKnown(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _LOG_MESSAGES.search(record.getMessage())


@contextmanager
def known_deprecations_silenced() -> Iterator[None]:
    """Run the body with the notices above hidden; every other warning and log line shows."""
    from transformers.utils import logging as hf_logging

    hf_logging.get_logger("transformers")  # installs transformers' handler if not yet there
    drop = _DropKnown()
    handlers = list(logging.getLogger("transformers").handlers)
    for handler in handlers:
        handler.addFilter(drop)
    try:
        with warnings.catch_warnings():
            for category, message in _WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category)
            yield
    finally:
        for handler in handlers:
            handler.removeFilter(drop)
