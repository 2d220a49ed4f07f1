"""The one exception type that speaks to the user."""


class FTIRUnmixerError(Exception):
    """A problem with the user's input or settings.

    Its message is one sentence that names the file or configuration key at fault and
    says what to do. Entry points print it without a traceback and exit with status 2.
    """
