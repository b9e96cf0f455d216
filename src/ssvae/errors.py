"""The one exception type users see: the CLI prints its message as a single line, no traceback."""


class SSVAEError(ValueError):
    """A problem with the user's input or environment, phrased as what is wrong and what to do."""


def warn(message: str) -> None:
    """One warning line on stderr that does not tear a running progress bar."""
    import sys

    from tqdm import tqdm

    tqdm.write(f"ssvae: warning: {message}", file=sys.stderr)
