"""Reading an import file and handing it to the JSON or the CSV import,
in the handler's transaction (rolled back again with --dry-run)."""

import json
import sys

from vmm.exchange import (
    InvalidImport,
)
from vmm.i18n import _


def read_import_file(path):
    """The text of the file (``-``: standard input), checked to be UTF-8."""
    if path == '-':
        buffer = getattr(sys.stdin, 'buffer', None)
        data = buffer.read() if buffer is not None else \
            sys.stdin.read().encode('utf-8', 'surrogateescape')
    else:
        try:
            with open(path, 'rb') as handle:
                data = handle.read()
        except OSError as err:
            raise InvalidImport('', _("Cannot read the import file "
                                      "'%(file)s': %(reason)s")
                                % {'file': path,
                                   'reason': err.strerror}) from None
    if data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as err:
        raise InvalidImport(_('line %d') % (data[:err.start].count(b'\n')
                                            + 1),
                            _('not valid UTF-8')) from None
    if not text.strip():
        raise InvalidImport('', _('The import file is empty'))
    return text


def import_file(handler, path, dry_run=False):
    """Import the JSON document or CSV file *path*; return the counts."""
    text = read_import_file(path)
    if not dry_run:
        handler.require_root()
    # 56 when misc.base_directory is missing
    handler.jail.real_base  # noqa: B018
    if text.lstrip().startswith(('{', '[')):
        document = _parse_json(text)
        from vmm.exchange.load import import_json
        work = lambda: import_json(handler, document, dry_run)  # noqa: E731
    else:
        from vmm.exchange.csvfile import import_csv
        work = lambda: import_csv(handler, text, dry_run)  # noqa: E731
    if not dry_run:
        return work()
    # Everything up to the commit, then undone: also inside a batch, where
    # what came before stays.
    try:
        with handler.savepoint():
            raise _DryRunDone(work())
    except _DryRunDone as done:
        return done.counts


class _DryRunDone(Exception):
    def __init__(self, counts):
        super().__init__()
        self.counts = counts


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _DuplicateKey(Exception):
    pass


def _parse_json(text):
    def constant(name):
        raise ValueError(_('%s is not allowed') % name)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys,
                          parse_constant=constant)
    except json.JSONDecodeError as err:
        raise InvalidImport(_('line %(line)d, column %(column)d')
                            % {'line': err.lineno, 'column': err.colno},
                            _('invalid JSON: %s') % err.msg) from None
    except _DuplicateKey as err:
        raise InvalidImport('', _("invalid JSON: the key '%s' appears "
                                  'twice in one object') % err.args[0]) \
            from None
    except ValueError as err:
        raise InvalidImport('', _('invalid JSON: %s') % err) from None
    except RecursionError:
        raise InvalidImport('', _('invalid JSON: nested too deeply')) \
            from None
