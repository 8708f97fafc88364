"""The vacation script: Sieve text written from the settings, and the
record in its first lines of what was active before."""

import os

from vmm.text import has_control

#: Name of vmm's script in the personal storage (``~/sieve``).
SCRIPT_NAME = 'vmm-vacation'
SCRIPT_FILE = SCRIPT_NAME + '.sieve'
BINARY_FILE = SCRIPT_NAME + '.svbin'
#: The personal script storage and the active script, Pigeonhole's
#: defaults ``file:~/sieve;active=~/.dovecot.sieve``.
SIEVE_DIR = 'sieve'
ACTIVE = '.dovecot.sieve'
#: Where Pigeonhole keeps the compiled active script -- also when
#: ``~/.dovecot.sieve`` is a symbolic link into ``~/sieve``.
ACTIVE_BINARY = '.dovecot.svbin'

_HEADER = '# vmm-previous-active: '


def sieve_string(text):
    """*text* as a Sieve quoted string (RFC 5228 2.4.2)."""
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def sieve_multiline(text):
    """*text* as a Sieve ``text:`` multi-line literal (RFC 5228 2.4.2),
    dot-stuffed, ending with the line ``.``.  *text* has no CR."""
    lines = ['.' + line if line.startswith('.') else line
             for line in text.split('\n')]
    return 'text:\n%s\n.\n' % '\n'.join(lines)


def valid_name(name):
    """Whether *name* can be a script name in ``~/sieve``, and be written
    into a comment line and a string of the vacation script."""
    return (bool(name) and '/' not in name and name not in ('.', '..')
            and not has_control(name)
            and len((name + '.sieve').encode('utf-8')) <= 255)


class Previous:
    """What ``~/.dovecot.sieve`` was before the vacation: kind 'none',
    'link' (target: the link text) or 'file' (name: its name in
    ``~/sieve``)."""

    __slots__ = ('kind', 'value')

    def __init__(self, kind, value=None):
        self.kind, self.value = kind, value

    def __eq__(self, other):
        return isinstance(other, Previous) and \
            (self.kind, self.value) == (other.kind, other.value)

    def __repr__(self):
        return 'Previous(%r, %r)' % (self.kind, self.value)

    @property
    def name(self):
        """The user's script name in ``~/sieve``, for ``include``."""
        if self.kind == 'file':
            return self.value
        if self.kind == 'link':
            return link_script_name(self.value)
        return None

    def header(self):
        if self.kind == 'none':
            return _HEADER + 'none'
        return _HEADER + '%s %s' % (self.kind, sieve_string(self.value))


def link_script_name(target, home=None):
    """NAME when the link text *target* points at ``~/sieve/NAME.sieve``
    (relative to the home, or absolute below *home*), else None."""
    path = os.path.normpath(target)
    if os.path.isabs(path):
        if home is None:
            return None
        prefix = os.path.join(os.path.normpath(home), SIEVE_DIR) + '/'
        if not path.startswith(prefix):
            return None
        rest = path[len(prefix):]
    else:
        if not path.startswith(SIEVE_DIR + '/'):
            return None
        rest = path[len(SIEVE_DIR) + 1:]
    if not rest.endswith('.sieve'):
        return None
    name = rest[:-len('.sieve')]
    return name if valid_name(name) else None


def _unquote(text):
    """The value of the Sieve quoted string *text* (the whole of it), or
    None when it is not one."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    out, pos, body = [], 0, text[1:-1]
    while pos < len(body):
        char = body[pos]
        if char == '\\':
            if pos + 1 >= len(body):
                return None
            out.append(body[pos + 1])
            pos += 2
        elif char == '"':
            return None
        else:
            out.append(char)
            pos += 1
    return ''.join(out)


def parse_previous(script, home=None):
    """The :class:`Previous` recorded in the vacation *script*, or None
    when there is no valid record."""
    for line in script.split('\n')[:10]:
        if not line.startswith(_HEADER):
            continue
        rest = line[len(_HEADER):]
        if rest == 'none':
            return Previous('none')
        kind, _sep, quoted = rest.partition(' ')
        value = _unquote(quoted)
        if value is None:
            return None
        if kind == 'file' and valid_name(value) and \
                value != SCRIPT_NAME:
            return Previous('file', value)
        if kind == 'link' and not has_control(value):
            name = link_script_name(value, home)
            if name and name != SCRIPT_NAME:
                return Previous('link', value)
        return None
    return None


def make_script(settings, addresses, previous, owner=''):
    """The vacation script for *settings* (checked values), answering
    mail to *addresses*, including the user's script *previous* after the
    vacation rule."""
    extensions = ['vacation']
    tests = []
    if settings.date_from:
        tests.append('currentdate :value "ge" "date" %s'
                     % sieve_string(settings.date_from.isoformat()))
    if settings.date_until:
        tests.append('currentdate :value "le" "date" %s'
                     % sieve_string(settings.date_until.isoformat()))
    if tests:
        extensions += ['date', 'relational']
    name = previous.name
    if name:
        extensions.append('include')
    arguments = [':days %d' % settings.days]
    if settings.subject:
        arguments.append(':subject %s' % sieve_string(settings.subject))
    if addresses:
        arguments.append(':addresses [%s]' % ', '.join(
            sieve_string(a) for a in addresses))
    action = 'vacation %s\n%s;\n' % (' '.join(arguments),
                                     sieve_multiline(settings.body))
    lines = [
        '# Out-of-office reply%s, written by vmm (uservacation) from its '
        'database.' % (' of ' + owner if owner else ''),
        '# Change it with `vmm uservacation`: changes made here are lost.',
        previous.header(),
        'require [%s];' % ', '.join(sieve_string(e) for e in extensions),
        '',
    ]
    if not tests:
        body = action
    elif len(tests) == 1:
        body = 'if %s {\n%s}\n' % (tests[0], action)
    else:
        body = 'if allof (%s) {\n%s}\n' % (',\n          '.join(tests),
                                           action)
    text = '\n'.join(lines) + '\n' + body
    if name:
        text += '\n# The script that was active before, unchanged:\n' \
                'include :personal :optional %s;\n' % sieve_string(name)
    return text
