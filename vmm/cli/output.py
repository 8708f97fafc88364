"""Everything the CLI prints: info blocks, lists, warnings, errors."""

import sys

from vmm.i18n import _


def setup_streams():
    """Print Unicode whatever the terminal's encoding: replace what it
    cannot show instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, 'reconfigure', None)
        if reconfigure is not None:
            reconfigure(errors='replace')


def error(message):
    print(_('Error: %s') % message, file=sys.stderr)


def warning(message):
    print(_('Warning: %s') % message, file=sys.stderr)


def line(text=''):
    print(text)


def info(title, rows):
    """A title, a rule, and aligned ``Label....: value`` lines."""
    print(title)
    print('-' * len(title))
    rows = list(rows)
    width = max((len(label) for label, _value in rows), default=0) + 3
    for label, value in rows:
        print('\t%s: %s' % (label.ljust(width, '.'), value))
    print()


def items(title, values, empty=None):
    """A title, a rule, and one indented entry per line."""
    print(title)
    print('-' * len(title))
    count = 0
    for value in values:
        print('\t%s' % value)
        count += 1
    if not count:
        print('\t%s' % (empty or _('None')))
    print()
