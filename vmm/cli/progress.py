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
# Back to the start of the line, and clear it.
WIPE = '\r\x1b[K'
# Whether a progress line is on the terminal now.
_showing = False


def enabled(out=None):
    """Whether progress is shown: stderr is a terminal, and *out* (the
    run's Output) does not print JSON."""
    if out is not None and out.json:
        return False
    isatty = getattr(sys.stderr, 'isatty', None)
    return isatty is not None and isatty()


def progress(iterable, total=None, label='', out=None):
    """Yield what *iterable* yields, showing *label* with the count (and
    the percentage of *total*, if known) while it runs.  *out* is the
    run's Output (vmm.cli.output): under --json nothing is shown."""
    if not enabled(out):
        yield from iterable
        return
    global _showing
    stream = sys.stderr
    # Work that ends within the first interval shows nothing.
    count, shown = 0, time.monotonic()
    try:
        for item in iterable:
            yield item
            count += 1
            now = time.monotonic()
            if now - shown >= INTERVAL:
                shown, _showing = now, True
                stream.write(WIPE + _line(label, count, total))
                stream.flush()
    finally:
        wipe()


def wipe():
    """Take the progress line off the terminal, if one is shown: before
    anything else is printed (a batch line's error, a warning), so that
    it starts at the left margin; the next update draws the line again."""
    global _showing
    if _showing:
        _showing = False
        sys.stderr.write(WIPE)
        sys.stderr.flush()


def reporter(out):
    """progress() bound to the run's Output *out*, for work below the CLI
    that takes a ``progress(iterable, total, label)`` callable."""
    def report(iterable, total=None, label=''):
        return progress(iterable, total, label, out)
    return report


def _line(label, count, total):
    if total:
        return '%s: %d/%d (%d%%)' % (label, count, total,
                                     min(100, count * 100 // total))
    return '%s: %d' % (label, count)
