"""Reading a JSON document piece by piece, so that memory stays that of
one record whatever the document's size: the outer objects and arrays
token by token, each value inside them (an account, an alias) whole, by
the standard library's decoder over a buffer that holds little more than
that value (``JSONDecoder.raw_decode``).  The standard library is enough
here: vmm's records are small, and the C decoder reads them as fast as
an incremental parser would."""

import json
import re

from vmm.exchange import InvalidImport
from vmm.i18n import _

CHUNK = 1 << 16
_NOT_SPACE = re.compile(r'[^ \t\n\r]')


class _DuplicateKey(Exception):
    pass


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _constant(name):
    raise ValueError(_('%s is not allowed') % name)


def duplicate_key(key):
    return InvalidImport('', _("invalid JSON: the key '%s' appears twice "
                               'in one object') % key)


class Reader:
    """A JSON text read from *handle* (a text file) front to back."""

    def __init__(self, handle):
        self._handle = handle
        self._buffer = ''
        self._pos = 0
        self._eof = False
        self._line, self._column = 1, 1     # of self._buffer[0]
        self._decoder = json.JSONDecoder(
            object_pairs_hook=_no_duplicate_keys, parse_constant=_constant)

    def _more(self):
        """Drop what was read and append at least as much as is left."""
        done = self._buffer[:self._pos]
        newlines = done.count('\n')
        if newlines:
            self._line += newlines
            self._column = len(done) - done.rindex('\n')
        else:
            self._column += len(done)
        self._buffer = self._buffer[self._pos:]
        self._pos = 0
        data = self._handle.read(max(CHUNK, len(self._buffer)))
        if not data:
            self._eof = True
        self._buffer += data

    def _error(self, message, pos=None):
        pos = self._pos if pos is None else pos
        text = self._buffer[:pos]
        newlines = text.count('\n')
        if newlines:
            line, column = self._line + newlines, pos - text.rindex('\n')
        else:
            line, column = self._line, self._column + pos
        raise InvalidImport(_('line %(line)d, column %(column)d')
                            % {'line': line, 'column': column},
                            _('invalid JSON: %s') % message)

    def peek(self):
        """The next character that is not white space ('' at the end)."""
        while True:
            found = _NOT_SPACE.search(self._buffer, self._pos)
            if found:
                self._pos = found.start()
                return self._buffer[self._pos]
            self._pos = len(self._buffer)
            if self._eof:
                return ''
            self._more()

    def value(self):
        """The next value, decoded whole."""
        while True:
            self.peek()
            try:
                value, end = self._decoder.raw_decode(self._buffer,
                                                      self._pos)
            except json.JSONDecodeError as err:
                if not self._eof:
                    self._more()
                    continue
                self._error(err.msg, err.pos)
            except _DuplicateKey as err:
                raise duplicate_key(err.args[0]) from None
            except ValueError as err:
                raise InvalidImport('', _('invalid JSON: %s') % err) \
                    from None
            except RecursionError:
                raise InvalidImport('', _('invalid JSON: nested too '
                                          'deeply')) from None
            if end == len(self._buffer) and not self._eof:
                self._more()        # a number may go on in the next chunk
                continue
            self._pos = end
            return value

    def _expect(self, char, message):
        if self.peek() != char:
            self._error(message)
        self._pos += 1

    def members(self, where):
        """The keys of the object that comes next, each once; after each
        key the caller reads its value (value(), members(), elements())."""
        if self.peek() != '{':
            self.value()            # invalid JSON is reported as such
            raise InvalidImport(where, _('expected a JSON object'))
        self._pos += 1
        if self.peek() == '}':
            self._pos += 1
            return
        seen = set()
        while True:
            if self.peek() != '"':
                self._error('Expecting property name enclosed in double '
                            'quotes')
            key = self.value()
            if key in seen:
                raise duplicate_key(key)
            seen.add(key)
            self._expect(':', "Expecting ':' delimiter")
            yield key
            following = self.peek()
            self._pos += 1
            if following == '}':
                return
            if following != ',':
                self._pos -= 1
                self._error("Expecting ',' delimiter")

    def elements(self, where):
        """The positions of the array that comes next; at each the caller
        reads the element."""
        if self.peek() != '[':
            self.value()
            raise InvalidImport(where, _('expected a JSON array'))
        self._pos += 1
        if self.peek() == ']':
            self._pos += 1
            return
        index = 0
        while True:
            yield index
            index += 1
            following = self.peek()
            self._pos += 1
            if following == ']':
                return
            if following != ',':
                self._pos -= 1
                self._error("Expecting ',' delimiter")

    def end(self):
        """Nothing but white space may follow the document."""
        if self.peek():
            self._error('Extra data')
