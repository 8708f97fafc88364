"""Everything the CLI prints: info blocks, lists, warnings, errors — as
text for people, or with ``--json`` as one JSON document for programs.

In JSON mode a command's output is one object: each info block is a key
holding an object of stable field names, each list a key holding an array
that is written entry by entry as the rows arrive (a listing of a million
addresses never sits in memory).  Errors and warnings go to stderr as
``{"error": …, "code": …}`` / ``{"warning": …}``.
"""

import sys

from vmm.i18n import _


def setup_streams():
    """Print Unicode whatever the terminal's encoding: replace what it
    cannot show instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, 'reconfigure', None)
        if reconfigure is not None:
            reconfigure(errors='replace')


def _dump(value):
    import json
    return json.dumps(value, ensure_ascii=False, default=str)


def _wipe_progress():
    """A progress line (vmm.cli.progress) leaves the terminal before text
    is printed; nothing to do in runs that never showed one."""
    progress = sys.modules.get('vmm.cli.progress')
    if progress is not None:
        progress.wipe()


class Output:
    """The printer of one run (a batch's lines share it): text, or with
    *json* one JSON document whose members are written as they come."""

    def __init__(self, json=False):
        self.json = json
        self._open = False
        self._messages = []

    def _key(self, key):
        """Start the next member of the document."""
        sys.stdout.write('%s%s: ' % (',\n ' if self._open else '{',
                                     _dump(key)))
        self._open = True

    def finish(self):
        """Close the JSON document (free-text lines become "messages")."""
        if not self.json:
            return
        if self._messages:
            self._key('messages')
            sys.stdout.write(_dump(self._messages))
        if self._open:
            sys.stdout.write('}\n')
        self._open, self._messages = False, []
        sys.stdout.flush()

    def error(self, message, code=None):
        if self.json:
            print(_dump({'error': message, 'code': code}), file=sys.stderr)
        else:
            _wipe_progress()
            print(_('Error: %s') % message, file=sys.stderr)

    def warning(self, message):
        if self.json:
            print(_dump({'warning': message}), file=sys.stderr)
        else:
            _wipe_progress()
            print(_('Warning: %s') % message, file=sys.stderr)

    def warnings(self, handler):
        """Print the handler's warnings, once."""
        for message in handler.warnings:
            self.warning(message)
        handler.warnings.clear()

    def line(self, text=''):
        if self.json:
            if text:
                self._messages.append(text)
        else:
            _wipe_progress()
            print(text)

    def field(self, key, value):
        """A plain member of the JSON document (nothing in text mode)."""
        if self.json:
            self._key(key)
            sys.stdout.write(_dump(value))

    def info(self, key, title, rows):
        """A title, a rule, and aligned ``Label....: value`` lines; in JSON
        the object {field: value}.  *rows* are (field, label, value) or
        (field, label, text, value) when people read something other than
        programs; a value of None is shown empty and written as null."""
        rows = [row if len(row) == 4 else row + (row[2],) for row in rows]
        if self.json:
            self._key(key)
            sys.stdout.write(_dump({row[0]: row[3] for row in rows}))
            return
        print(title)
        print('-' * len(title))
        width = max((len(row[1]) for row in rows), default=0) + 3
        for _field, label, text, _value in rows:
            print('\t%s: %s' % (label.ljust(width, '.'),
                                '' if text is None else text))
        print()

    def items(self, key, title, entries, text=str, empty=None):
        """A title, a rule, and one indented line per entry
        (``text(entry)``); in JSON the array of entries, streamed."""
        if self.json:
            self._key(key)
            sys.stdout.write('[')
            first = True
            try:
                for entry in entries:
                    sys.stdout.write(('' if first else ',\n  ') +
                                     _dump(entry))
                    first = False
            finally:
                # Closed even when the rows fail half-way (the error goes
                # to stderr): stdout stays one JSON document.
                sys.stdout.write(']')
            return
        print(title)
        print('-' * len(title))
        count = 0
        for entry in entries:
            print('\t%s' % text(entry))
            count += 1
        if not count:
            # In parentheses: not to be mistaken for an entry named "None".
            print('\t%s' % (empty or _('(none)')))
        print()
