"""Third-party deprecation notices hidden once a ragkit model is loaded, and only those.

A user of `ragkit tune` or `ragkit ask --adapter` cannot act on transformers' or peft's notices
about their own internals (the notice quotes a line of their or our source, which reads as an
error). Each entry names one known message and category; anything else, warnings of ours and
real errors included, still shows.

Why process-wide rather than scoped with `warnings.catch_warnings`: that context manager saves
and restores the whole process's filter list, so two threads using it at once (the server
generates in worker threads while another reads a PDF under its own `catch_warnings`) can leave
every warning silenced, or drop another thread's filters (a review found this). Installing
these few narrow filters once, when an HF model is first loaded or tuned, has no such race.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings

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
_LOCK = threading.Lock()
_INSTALLED = False


class _DropKnown(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _LOG_MESSAGES.search(record.getMessage())


def silence_known_deprecations() -> None:
    """Hide the notices above from now on (idempotent, thread-safe); every other warning and
    log line shows. Called where ragkit loads, tunes or runs an HF model."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        from transformers.utils import logging as hf_logging

        hf_logging.get_logger("transformers")  # installs transformers' handler if not yet there
        drop = _DropKnown()
        for handler in logging.getLogger("transformers").handlers:
            handler.addFilter(drop)
        for category, message in _WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        _INSTALLED = True
