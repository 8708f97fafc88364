"""What vmm accepts as text and how it shows text it refuses.

One definition of a control character for every value vmm takes: a C0 or
C1 control or DEL (Unicode category Cc), half of a surrogate pair or a
byte that was not UTF-8 (Cs: Python's surrogate escapes), and the line and
paragraph separators U+2028/U+2029 (Zl, Zp), which end a line in Sieve,
in editors and in many a terminal.  A value that is written into a file
line by line (vmm.cfg, a Postfix map's answer, a Sieve script) or shown in
a listing could be broken or forged by any of them.
"""

import unicodedata

__all__ = ('has_control', 'is_control', 'printable')

_CONTROL = frozenset(('Cc', 'Cs', 'Zl', 'Zp'))


def is_control(char):
    """Whether *char* is a control character (see the module's text)."""
    return unicodedata.category(char) in _CONTROL


def has_control(text, allowed=''):
    """Whether *text* holds a control character other than those in
    *allowed* (a note's tabs and line breaks, say)."""
    return any(char not in allowed and is_control(char) for char in text)


def printable(text, limit=None):
    """*text* for an error message: a byte that was not UTF-8 (a surrogate
    escape) as ``\\xff``, other invisible characters as Python escapes;
    cut after *limit* characters with an ellipsis."""
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    if not text.isprintable():
        shown = []
        for char in text:
            code = ord(char)
            if 0xdc80 <= code <= 0xdcff:
                shown.append('\\x%02x' % (code - 0xdc00))
            elif char.isprintable():
                shown.append(char)
            else:
                shown.append(char.encode('unicode_escape', 'backslashreplace')
                             .decode('ascii'))
        text = ''.join(shown)
    return text + '…' if cut else text
