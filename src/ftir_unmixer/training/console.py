"""A training run's console: each event once, without third-party advertisements or noise.

Each filter acts where its noise arises, and only on it:

* the ``lightning`` logger has a console handler of its own and also passes its records on to
  the root logger, which Hydra configures (console and ``train.log``), so every Lightning line
  was printed twice. When the root logger has handlers, Lightning's own is removed;
* Lightning advertises the ``litlogger`` package at INFO level from
  ``lightning.pytorch.utilities.rank_zero``; a filter on that logger drops that message;
* torch deprecates ``LeafSpec``, which Lightning still instantiates in its own pytree
  helper; a warnings filter ignores that one FutureWarning.
"""

from __future__ import annotations

import logging
import warnings

ADVERT_LOGGER = "lightning.pytorch.utilities.rank_zero"
"""The logger of Lightning's rank-zero messages, among them the litlogger advertisement."""


def is_advertisement(record: logging.LogRecord) -> bool:
    """Whether a log record is Lightning's advertisement for the ``litlogger`` package."""
    return "litlogger" in record.getMessage()


class DropAdvertisements(logging.Filter):
    """Drop Lightning's ``litlogger`` advertisement, keep every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the advertisement."""
        return not is_advertisement(record)


def quiet_console() -> None:
    """Install the three filters of this module (idempotent); call it after importing Lightning."""
    lightning_logger = logging.getLogger("lightning")
    if logging.getLogger().hasHandlers():
        for handler in list(lightning_logger.handlers):
            lightning_logger.removeHandler(handler)
    adverts = logging.getLogger(ADVERT_LOGGER)
    if not any(isinstance(f, DropAdvertisements) for f in adverts.filters):
        adverts.addFilter(DropAdvertisements())
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )
