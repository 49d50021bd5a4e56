"""Durations in kubectl's form, for --request-timeout, --timeout and --since."""

from .errors import InvalidInput


def parse_duration(value):
    """Parse kubectl's duration form ("30s", "5m", "1h", "1h30m", or bare seconds) to seconds."""
    text = str(value).strip()
    if not text:
        raise ValueError("empty duration")
    if text.isdigit():
        return float(text)

    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total = 0.0
    number = ""
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdigit() or char == ".":
            number += char
            index += 1
            continue

        unit = "ms" if text.startswith("ms", index) else char
        if unit not in units or not number:
            raise ValueError(f"invalid duration {value!r}")
        total += float(number) * units[unit]
        number = ""
        index += len(unit)

    if number:
        raise ValueError(f"invalid duration {value!r}: missing unit after {number}")
    return total


def parse_positive_duration(value, flag, example):
    """Parse a duration option that must be positive; raise ``InvalidInput`` naming ``flag`` otherwise."""
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise InvalidInput(f"invalid {flag} {value!r}: use a duration such as {example}") from None

    if seconds <= 0:
        raise InvalidInput(f"invalid {flag} {value!r}: the duration must be positive")
    return seconds
