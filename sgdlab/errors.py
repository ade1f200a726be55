"""The one error type for bad input: raised before any work, printed as one line."""


class ConfigError(ValueError):
    """Bad configuration or data; the message names the key and what is allowed."""


def require(ok: bool, key: str, value: object, allowed: str) -> None:
    """Raise ``ConfigError("key=value: allowed")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}={value!r}: {allowed}")
