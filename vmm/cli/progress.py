"""How far long work is, on a terminal: one line on standard error,
rewritten in place at most a few times a second, and wiped at the end.
Nothing when standard error is not a terminal (a pipe, a log file, cron)
or under --json, so that what scripts read stays exactly as it was.

A few lines of its own rather than a library (tqdm, rich): vmm shows a
count, a total and a label, and a dependency would cost every command its
import time."""

import sys
import time

# Seconds between two updates of the line.
INTERVAL = 0.2


def enabled():
    """Whether progress is shown: stderr is a terminal, and no --json."""
    from vmm.cli import output
    stream = sys.stderr
    isatty = getattr(stream, 'isatty', None)
    if isatty is None or not isatty():
        return False
    return not getattr(output, 'json_mode', lambda: False)()


def progress(iterable, total=None, label=''):
    """Yield what *iterable* yields, showing *label* with the count (and
    the percentage of *total*, if known) while it runs."""
    if not enabled():
        yield from iterable
        return
    stream = sys.stderr
    # Work that ends within the first interval shows nothing.
    count, shown, written = 0, time.monotonic(), False
    try:
        for item in iterable:
            yield item
            count += 1
            now = time.monotonic()
            if now - shown >= INTERVAL:
                shown, written = now, True
                stream.write('\r\x1b[K' + _line(label, count, total))
                stream.flush()
    finally:
        if written:
            stream.write('\r\x1b[K')
            stream.flush()


def _line(label, count, total):
    if total:
        return '%s: %d/%d (%d%%)' % (label, count, total,
                                     min(100, count * 100 // total))
    return '%s: %d' % (label, count)
