"""Reading an import file and handing it to the JSON or the CSV import,
in the handler's transaction (rolled back again with --dry-run).

A JSON document is read twice, record by record (:mod:`.jsonstream`):
first its outline — everything but the records of its domains, which are
only counted — so that every domain is known and checked before anything
is written, then the records, each checked and written in chunks as it
comes.  Memory stays that of a chunk whatever the document's size;
standard input is copied to an unnamed temporary file for the second
reading."""

import contextlib
import sys

from vmm.exchange import InvalidImport
from vmm.exchange.document import RECORDS, Counted
from vmm.i18n import _


def _no_progress(iterable, total=None, label=None):
    return iterable


@contextlib.contextmanager
def _opened(path):
    """The import file as a binary file that can be read again."""
    if path == '-':
        import shutil
        import tempfile
        buffer = getattr(sys.stdin, 'buffer', None)
        with tempfile.TemporaryFile() as handle:
            if buffer is not None:
                shutil.copyfileobj(buffer, handle)
            else:
                handle.write(sys.stdin.read().encode('utf-8',
                                                     'surrogateescape'))
            yield handle
        return
    try:
        handle = open(path, 'rb')
    except OSError as err:
        raise InvalidImport('', _("Cannot read the import file "
                                  "'%(file)s': %(reason)s")
                            % {'file': path,
                               'reason': err.strerror}) from None
    with handle:
        yield handle


def _start(handle):
    """Rewind past a byte order mark; the first character that is not
    white space (b'' for an empty file)."""
    handle.seek(0)
    if handle.read(3) != b'\xef\xbb\xbf':
        handle.seek(0)
    start = handle.tell()
    while True:
        block = handle.read(4096)
        if not block:
            break
        stripped = block.lstrip()
        if stripped:
            handle.seek(start)
            return stripped[:1]
    handle.seek(start)
    return b''


class _Text:
    """The UTF-8 text of a binary file, read in pieces."""

    def __init__(self, handle):
        import codecs
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder('utf-8')()
        self._lines = 0

    def read(self, size):
        data = self._handle.read(size)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as err:
            line = self._lines + data[:err.start].count(b'\n') + 1
            raise InvalidImport(_('line %d') % line,
                                _('not valid UTF-8')) from None
        self._lines += text.count('\n')
        return text


def _csv_text(handle):
    data = handle.read()
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as err:
        raise InvalidImport(_('line %d') % (data[:err.start].count(b'\n')
                                            + 1),
                            _('not valid UTF-8')) from None


def import_file(handler, path, dry_run=False, progress=_no_progress):
    """Import the JSON document or CSV file *path*; return the counts.
    *progress(iterable, total, label)* passes the records through, and
    may show how far the import is."""
    with _opened(path) as handle:
        first = _start(handle)
        if not first:
            raise InvalidImport('', _('The import file is empty'))
        if not dry_run:
            handler.require_root()
        # 56 when misc.base_directory is missing
        handler.jail.real_base  # noqa: B018
        if first in b'{[':
            from vmm.exchange.load import import_json

            def reader():
                from vmm.exchange.jsonstream import Reader
                _start(handle)
                return Reader(_Text(handle))
            work = lambda: import_json(  # noqa: E731
                handler, reader, dry_run, progress)
        else:
            from vmm.exchange.csvfile import import_csv
            text = _csv_text(handle)
            work = lambda: import_csv(handler, text, dry_run)  # noqa: E731
        if not dry_run:
            return work()
        # Everything up to the commit, then undone: also inside a batch,
        # where what came before stays.
        try:
            with handler.savepoint():
                raise _DryRunDone(work())
        except _DryRunDone as done:
            return done.counts


class _DryRunDone(Exception):
    def __init__(self, counts):
        super().__init__()
        self.counts = counts


def outline(reader):
    """The document with each domain's records only counted."""
    document = {}
    for key in reader.members(''):
        if key == 'domains' and reader.peek() == '[':
            domains = document[key] = []
            for _index in reader.elements(key):
                domains.append(_domain_outline(reader))
        else:
            document[key] = reader.value()
    reader.end()
    return document


def _domain_outline(reader):
    if reader.peek() != '{':
        return reader.value()       # refused by the checks, in order
    domain = {}
    for key in reader.members(''):
        if key in RECORDS and reader.peek() == '[':
            length = 0
            for _index in reader.elements(key):
                reader.value()
                length += 1
            domain[key] = Counted(length)
        else:
            domain[key] = reader.value()
    return domain


def records(reader, plan):
    """(domain, kind, value, where) for each record, in the document's
    order, and (domain, None, None, None) where a domain begins."""
    for key in reader.members(''):
        if key != 'domains':
            reader.value()
            continue
        for index in reader.elements(key):
            domain = plan.domains[index]
            yield domain, None, None, None
            for kind in reader.members(domain.where):
                if kind not in RECORDS:
                    reader.value()
                    continue
                at = '%s.%s' % (domain.where, kind)
                for number in reader.elements(at):
                    yield domain, kind, reader.value(), '%s[%d]' % (at,
                                                                    number)


def first_record(reader, plan, found):
    """Where the first record stands for which ``found(domain, kind,
    value)`` is true (the document was checked up to it), or None."""
    for domain, kind, value, where in records(reader, plan):
        if kind is not None and found(domain, kind, value):
            return where
    return None
