"""The exception type of the package, and its one warning category."""


class DatasetError(ValueError):
    """A data file is missing, corrupt or of the wrong kind, or a request names no known data.

    The message names the file (or the argument) and the fault, and, for a missing file, where to
    place it by hand. Low-level faults (zlib, struct, OS errors) are chained as ``__cause__``.
    """


class DatasetWarning(UserWarning):
    """Data that loads but may not be what was meant (e.g. pixel values outside [0, 1])."""
