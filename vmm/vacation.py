"""Out-of-office replies (vmm(1) "Vacation"): ``vmm uservacation``.

The row of the account in the table ``vacation`` is the source of truth;
from it vmm writes a Sieve script into the account's home, and Dovecot's
Sieve plugin (Pigeonhole, ``vacation`` extension, RFC 5230) does the
replying: once per sender every ``days`` days, never to lists, bounces or
other automatic mail.  Nothing in Dovecot's configuration has to change:
Pigeonhole's defaults are assumed, ``sieve = file:~/sieve;
active=~/.dovecot.sieve``, with no global script.

Files
-----

``~/sieve/vmm-vacation.sieve``
    The vacation script.  Its first lines are comments; one of them,
    ``# vmm-previous-active: ...``, records what ``~/.dovecot.sieve`` was
    before vmm made the vacation script the active one:

    * ``none`` -- there was no active script;
    * ``link "sieve/NAME.sieve"`` -- a symbolic link to the user's script
      NAME in ``~/sieve`` (what ManageSieve makes), target text verbatim;
    * ``file "NAME"`` -- a regular file (written by hand); vmm gave it the
      name ``~/sieve/NAME.sieve`` (a hard link to the same file, so owner,
      mode and contents stay exactly what they were) while the vacation is
      on.

    In the last two cases the script ends with ``include :personal
    :optional "NAME";``: the user's own script runs after the vacation
    rule, and keeps filing mail where it did.  (``:optional``: should the
    user delete that script through ManageSieve meanwhile, the vacation
    goes on working.)

``~/.dovecot.sieve``
    While the vacation is on, a symbolic link ``sieve/vmm-vacation.sieve``,
    as ManageSieve's SETACTIVE would make it.  ``--off`` puts back what the
    comment above records -- the same link text, or the same file -- and
    removes the vacation script.  Should the user have activated another
    script meanwhile (through ManageSieve), ``--off`` leaves the active
    script alone and only removes vmm's.

Escaping: the subject is a Sieve quoted string (``\\`` and ``"`` escaped),
the text a ``text:`` multi-line literal with dot-stuffing; neither
``variables`` nor ``encoded-character`` is required, so ``${...}`` stays
literal.  The subject may not contain line breaks or other control
characters; the text may contain tabs and line breaks only.  No subject
or text can therefore end a string early and inject Sieve commands.

Safety and atomicity: the home is reached through the handler's
:class:`~vmm.mailbox.DirectoryJail` (inside ``misc.base_directory``, no
symbolic link followed on the way); below it everything is done with
directory descriptors and ``O_NOFOLLOW``.  Files are written to temporary
names in their final directory (``0600``, ``~/sieve`` ``0700``, owned by
the account's UID and the domain's GID) before the transaction commits,
and renamed into place after the commit; on rollback the temporary files
are removed, so a failure leaves neither a database change nor a changed
file.  Concurrent runs for one account are serialised by the account's
row lock and a ``flock`` of its home directory (under which temporary
files a killed run left are swept away).

Dovecot compiles the scripts itself.  It keeps the binary of the active
script in ``~/.dovecot.svbin`` -- also when ``~/.dovecot.sieve`` is a link
into ``~/sieve`` -- and trusts it while it is newer than the script.  A
file put back by ``--off`` keeps its older mtime, and two ``--on`` may
fall in one second, so vmm removes ``~/.dovecot.svbin`` and
``~/sieve/vmm-vacation.svbin`` right after every change it makes.
"""

import datetime
import os
import re
import secrets
import stat
import unicodedata
import weakref

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.jail import close_fd, lstat_at

__all__ = ('DEFAULT_DAYS', 'MAX_BODY_BYTES', 'MAX_DAYS', 'MAX_SUBJECT',
           'SCRIPT_NAME', 'Previous', 'Settings', 'check_body',
           'check_dates', 'check_days', 'check_subject', 'make_script',
           'parse_date', 'parse_previous', 'read_settings',
           'sieve_multiline', 'sieve_string', 'vacation_off', 'vacation_on',
           'vacation_show')

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
#: The name a regular ``~/.dovecot.sieve`` has in ``~/sieve`` while the
#: vacation is on (``-2``, ``-3``, ... appended should it be taken).
SAVED_NAME = 'vmm-saved-dovecot-sieve'

DEFAULT_DAYS = 7
MAX_DAYS = 3650
MAX_SUBJECT = 255
#: Well below Pigeonhole's default sieve_max_script_size (1M), even when
#: every line needs dot-stuffing.
MAX_BODY_BYTES = 500000

_MODE_FILE = 0o600
_MODE_DIR = 0o700
_TEMP_PREFIX = '.vmm-tmp-'
_HEADER = '# vmm-previous-active: '
_DIR_FLAGS = (os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
              | getattr(os, 'O_CLOEXEC', 0))
_READ_LIMIT = 4 * 1024 * 1024

#: handler -> {uid: _Plan} of the file changes waiting for its commit.
_PENDING = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

class Settings:
    """One account's vacation, as the ``vacation`` row holds it."""

    __slots__ = ('active', 'subject', 'body', 'date_from', 'date_until',
                 'days')

    def __init__(self, active, subject, body, date_from=None,
                 date_until=None, days=DEFAULT_DAYS):
        self.active = active
        self.subject = subject
        self.body = body
        self.date_from = date_from
        self.date_until = date_until
        self.days = days

    def __eq__(self, other):
        return isinstance(other, Settings) and all(
            getattr(self, name) == getattr(other, name)
            for name in self.__slots__)

    def __repr__(self):
        return 'Settings(%s)' % ', '.join(
            '%s=%r' % (name, getattr(self, name)) for name in self.__slots__)


def _printable(text, limit=60):
    shown = ''.join(c if c.isprintable() else '\\x%02x' % ord(c)
                    if ord(c) < 256 else '\\u%04x' % ord(c)
                    for c in text[:limit])
    return shown + ('…' if len(text) > limit else '')


def _bad_char(char, allowed=''):
    if char in allowed:
        return False
    if 0xd800 <= ord(char) <= 0xdfff:
        return True
    return unicodedata.category(char) in ('Cc', 'Zl', 'Zp')


def check_subject(text):
    """The subject: one line of at most MAX_SUBJECT characters, no
    control characters; '' (or None) for Pigeonhole's default ("Auto:"
    and the subject of the mail answered).  VMMError 44 otherwise."""
    if text is None:
        return ''
    if any(_bad_char(c) for c in text):
        raise VMMError(_("Invalid subject: '%s' (it must be one line without "
                         'control characters)') % _printable(text),
                       errors.INVALID_OPTION)
    if len(text) > MAX_SUBJECT:
        raise VMMError(_('The subject is longer than %d characters')
                       % MAX_SUBJECT, errors.INVALID_OPTION)
    return text


def check_body(text):
    """The reply's text: line breaks normalised to LF, trailing empty
    lines removed; tabs and line breaks are the only control characters
    allowed; not empty; at most MAX_BODY_BYTES in UTF-8.  VMMError 44."""
    if text is None:
        text = ''
    text = text.replace('\r\n', '\n').replace('\r', '\n').rstrip('\n')
    for number, line in enumerate(text.split('\n'), 1):
        if any(_bad_char(c, '\t\u2028\u2029') for c in line):
            raise VMMError(_('Invalid message: line %(line)d contains a '
                             'control character or invalid Unicode: '
                             "'%(text)s'") % {'line': number,
                                              'text': _printable(line)},
                           errors.INVALID_OPTION)
    if not text.strip():
        raise VMMError(_('The message of a vacation must not be empty'),
                       errors.INVALID_OPTION)
    if len(text.encode('utf-8')) > MAX_BODY_BYTES:
        raise VMMError(_('The message is longer than %d bytes')
                       % MAX_BODY_BYTES, errors.INVALID_OPTION)
    return text


def check_days(days):
    """How often one sender is answered: every DAYS days, 1…MAX_DAYS."""
    if days is None:
        return DEFAULT_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or \
            not 1 <= days <= MAX_DAYS:
        raise VMMError(_('Invalid number of days: %(days)s (1 to %(max)d)')
                       % {'days': days, 'max': MAX_DAYS},
                       errors.INVALID_OPTION)
    return days


def parse_date(text):
    """A date written YYYY-MM-DD; ValueError (translated) otherwise."""
    if not re.fullmatch(r'[0-9]{4}-[0-9]{2}-[0-9]{2}', text or ''):
        raise ValueError(_("invalid date: '%s' (use YYYY-MM-DD)")
                         % _printable(text or ''))
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("invalid date: '%s' (no such day)")
                         % text) from None


def check_dates(date_from, date_until):
    if date_from and date_until and date_until < date_from:
        raise VMMError(_('The vacation cannot end (%(until)s) before it '
                         'begins (%(from)s)')
                       % {'until': date_until.isoformat(),
                          'from': date_from.isoformat()},
                       errors.INVALID_OPTION)


# ---------------------------------------------------------------------------
# Sieve
# ---------------------------------------------------------------------------

def sieve_string(text):
    """*text* as a Sieve quoted string (RFC 5228 2.4.2)."""
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def sieve_multiline(text):
    """*text* as a Sieve ``text:`` multi-line literal (RFC 5228 2.4.2),
    dot-stuffed, ending with the line ``.``.  *text* has no CR."""
    lines = ['.' + line if line.startswith('.') else line
             for line in text.split('\n')]
    return 'text:\n%s\n.\n' % '\n'.join(lines)


def _valid_name(name):
    """Whether *name* can be a script name in ``~/sieve``, and be written
    into a comment line and a string of the vacation script."""
    return (bool(name) and '/' not in name and name not in ('.', '..')
            and not any(_bad_char(c) for c in name)
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
            return _link_script_name(self.value)
        return None

    def header(self):
        if self.kind == 'none':
            return _HEADER + 'none'
        return _HEADER + '%s %s' % (self.kind, sieve_string(self.value))


def _link_script_name(target, home=None):
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
    return name if _valid_name(name) else None


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
        if kind == 'file' and _valid_name(value) and \
                value != SCRIPT_NAME:
            return Previous('file', value)
        if kind == 'link' and not any(_bad_char(c) for c in value):
            name = _link_script_name(value, home)
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


# ---------------------------------------------------------------------------
# Files below the home
# ---------------------------------------------------------------------------

def _refuse(path, reason):
    raise VMMError(_('Refusing to touch %(path)s: %(reason)s')
                   % {'path': path, 'reason': reason}, errors.VMM_ERROR)


def _unlink(name, dir_fd):
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _temp_name(prefix=_TEMP_PREFIX):
    return '%s%d-%s' % (prefix, os.getpid(), secrets.token_hex(6))


def _write_temp(dir_fd, data, uid, gid):
    """Write *data* to a new temporary file in *dir_fd*; its name."""
    name = _temp_name()
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                 | getattr(os, 'O_CLOEXEC', 0), _MODE_FILE, dir_fd=dir_fd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, _MODE_FILE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink(name, dir_fd)
        raise
    os.close(fd)
    return name


def _symlink_temp(dir_fd, target, uid, gid):
    name = _temp_name(ACTIVE + _TEMP_PREFIX)
    os.symlink(target, name, dir_fd=dir_fd)
    try:
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
    except BaseException:
        _unlink(name, dir_fd)
        raise
    return name


def _read_text(name, dir_fd):
    """The text of the regular file *name* in *dir_fd*, None when it is
    missing, not a regular file or not readable as UTF-8."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                     | getattr(os, 'O_CLOEXEC', 0), dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, size = [], 0
        while size <= _READ_LIMIT:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b''.join(chunks).decode('utf-8')
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


class _Home:
    """The account's home and ``~/sieve``, as directory descriptors, with
    the home locked (``flock``) until :meth:`close`."""

    def __init__(self, handler, account, lock=True):
        self.account = account
        self.path = account.home
        self.uid, self.gid = account.uid, account.domain.gid
        self.fd = self.sieve_fd = None
        self.created_sieve = False
        jail = handler.jail
        # DirectoryJail's walk: below the real base directory, every
        # component opened with O_NOFOLLOW.
        parts = jail._parts(self.path)
        if not parts:
            _refuse(self.path, _('it is the base directory itself'))
        self.fd = jail._open_parts(self.path, parts)
        if self.fd is None:
            raise VMMError(_("The home directory %(path)s of '%(address)s' "
                             'does not exist')
                           % {'path': self.path, 'address': account.unicode},
                           errors.NO_SUCH_DIRECTORY)
        if lock:
            import fcntl
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            except BaseException:
                self.close()
                raise

    def where(self, *names):
        return os.path.join(self.path, *names)

    def open_sieve(self, create=False):
        """The descriptor of ``~/sieve`` (made when *create*), or None."""
        if self.sieve_fd is not None:
            return self.sieve_fd
        st = lstat_at(SIEVE_DIR, self.fd)
        if st is None:
            if not create:
                return None
            os.mkdir(SIEVE_DIR, _MODE_DIR, dir_fd=self.fd)
            self.created_sieve = True
            self.sieve_fd = os.open(SIEVE_DIR, _DIR_FLAGS, dir_fd=self.fd)
            os.fchown(self.sieve_fd, self.uid, self.gid)
            os.fchmod(self.sieve_fd, _MODE_DIR)
            return self.sieve_fd
        if stat.S_ISLNK(st.st_mode):
            _refuse(self.where(SIEVE_DIR), _('it is a symbolic link'))
        if not stat.S_ISDIR(st.st_mode):
            _refuse(self.where(SIEVE_DIR), _('it is not a directory'))
        self.sieve_fd = os.open(SIEVE_DIR, _DIR_FLAGS, dir_fd=self.fd)
        return self.sieve_fd

    def active(self):
        """What ``~/.dovecot.sieve`` is: ('none',), ('ours',),
        ('link', target, name), ('file',)."""
        path = self.where(ACTIVE)
        st = lstat_at(ACTIVE, self.fd)
        if st is None:
            return ('none',)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(ACTIVE, dir_fd=self.fd)
            name = None if any(_bad_char(c) for c in target) else \
                _link_script_name(target, self.path)
            if name is None:
                _refuse(path, _("it is a symbolic link to '%s', not to a "
                                'script in ~/sieve') % _printable(target))
            if name == SCRIPT_NAME:
                return ('ours',)
            return ('link', target, name)
        if stat.S_ISREG(st.st_mode):
            return ('file',)
        _refuse(path, _('it is neither a file nor a symbolic link'))

    def our_previous(self):
        """The Previous recorded in vmm's script (None if unknown)."""
        sieve_fd = self.open_sieve()
        if sieve_fd is None:
            return None
        text = _read_text(SCRIPT_FILE, sieve_fd)
        return None if text is None else parse_previous(text, self.path)

    def script_exists(self, name, regular=True):
        """Whether ``~/sieve/NAME.sieve`` is there (a regular file, or
        anything when not *regular*)."""
        sieve_fd = self.open_sieve()
        if sieve_fd is None:
            return False
        st = lstat_at(name + '.sieve', sieve_fd)
        return st is not None and (stat.S_ISREG(st.st_mode)
                                   or not regular)

    def sweep(self):
        """Remove temporary files that a killed run left behind (runs
        hold the home's flock: none of them is in use)."""
        for fd, prefix in ((self.fd, ACTIVE + _TEMP_PREFIX),
                           (self.sieve_fd, _TEMP_PREFIX)):
            if fd is None:
                continue
            for name in os.listdir(fd):
                if name.startswith(prefix):
                    st = lstat_at(name, fd)
                    if st is not None and not stat.S_ISDIR(st.st_mode):
                        _unlink(name, fd)

    def close(self):
        close_fd(self.sieve_fd)
        close_fd(self.fd)
        self.sieve_fd = self.fd = None


def _os_error(home, err):
    return VMMError(_('Cannot change the Sieve scripts in %(path)s: '
                      '%(reason)s') % {'path': home.path,
                                       'reason': err.strerror or str(err)},
                    errors.VMM_ERROR)


class _Plan:
    """File changes prepared before the commit, done after it, undone on
    rollback.  *steps*: ('rename', src_fd, src, dst_fd, dst) or
    ('unlink', dir_fd, name), done in order after the commit; *temps*:
    (dir_fd, name) removed on rollback."""

    def __init__(self, handler, home):
        self.handler = handler
        self.home = home
        self.steps = []
        self.temps = []
        self.done = False

    def rename(self, src_fd, src, dst_fd, dst):
        self.steps.append(('rename', src_fd, src, dst_fd, dst))

    def unlink(self, dir_fd, name):
        self.steps.append(('unlink', dir_fd, name))

    def register(self):
        self.handler.on_rollback(self.rollback)
        self.handler.after_commit(self.commit)
        _PENDING.setdefault(self.handler, {})[self.home.uid] = self

    def _forget(self):
        self.done = True
        pending = _PENDING.get(self.handler, {})
        if pending.get(self.home.uid) is self:
            del pending[self.home.uid]

    def rollback(self):
        if self.done:
            return
        self._forget()
        try:
            for dir_fd, name in reversed(self.temps):
                try:
                    _unlink(name, dir_fd)
                except OSError:
                    pass
            if self.home.created_sieve:
                try:
                    os.rmdir(SIEVE_DIR, dir_fd=self.home.fd)
                except OSError:
                    pass
        finally:
            self.home.close()

    def commit(self):
        if self.done:
            return
        self._forget()
        try:
            for step in self.steps:
                if step[0] == 'rename':
                    _op, src_fd, src, dst_fd, dst = step
                    os.rename(src, dst, src_dir_fd=src_fd,
                              dst_dir_fd=dst_fd)
                else:
                    _unlink(step[2], step[1])
            for fd in (self.home.sieve_fd, self.home.fd):
                if fd is not None:
                    os.fsync(fd)
        except OSError as err:
            raise VMMError(_('The vacation settings were saved, but the '
                             'Sieve scripts in %(path)s could not be '
                             'changed: %(reason)s') % {
                                 'path': self.home.path,
                                 'reason': err.strerror or str(err)},
                           errors.VMM_ERROR) from None
        finally:
            self.home.close()


def _saved_name(sieve_fd):
    for number in range(1, 1000):
        name = SAVED_NAME if number == 1 else '%s-%d' % (SAVED_NAME, number)
        if lstat_at(name + '.sieve', sieve_fd) is None:
            return name
    raise VMMError(_('Too many saved Sieve scripts in ~/sieve'),
                   errors.VMM_ERROR)


def _prepare_on(handler, account, settings):
    """Write the vacation script and the new active link to temporary
    names; rename them after the commit.  Returns the Previous kept."""
    home = _Home(handler, account)
    plan = _Plan(handler, home)
    try:
        try:
            sieve_fd = home.open_sieve(create=True)
            home.sweep()
            state = home.active()
            if state[0] == 'ours':
                previous = home.our_previous() or Previous('none')
                if previous.kind == 'file' and \
                        not home.script_exists(previous.value):
                    previous = Previous('none')
            elif state[0] == 'link':
                previous = Previous('link', state[1])
            elif state[0] == 'file':
                name = _saved_name(sieve_fd)
                # A second name for the same file: owner, mode, contents
                # and inode stay what they were.
                os.link(ACTIVE, name + '.sieve', src_dir_fd=home.fd,
                        dst_dir_fd=sieve_fd, follow_symlinks=False)
                plan.temps.append((sieve_fd, name + '.sieve'))
                previous = Previous('file', name)
            else:
                previous = Previous('none')
            script = make_script(settings, account.all_addresses(), previous,
                                 account.unicode)
            temp = _write_temp(sieve_fd, script.encode('utf-8'), home.uid,
                               home.gid)
            plan.temps.append((sieve_fd, temp))
            # The script first (and its stale binary away), then the link
            # that makes it the active one.
            plan.rename(sieve_fd, temp, sieve_fd, SCRIPT_FILE)
            plan.unlink(sieve_fd, BINARY_FILE)
            if state[0] != 'ours':
                link = _symlink_temp(home.fd, '%s/%s' % (SIEVE_DIR,
                                                         SCRIPT_FILE),
                                     home.uid, home.gid)
                plan.temps.append((home.fd, link))
                plan.rename(home.fd, link, home.fd, ACTIVE)
            plan.unlink(home.fd, ACTIVE_BINARY)
        except OSError as err:
            raise _os_error(home, err) from None
    except BaseException:
        plan.rollback()
        raise
    plan.register()
    return previous


def _prepare_off(handler, account):
    """Put the previous active script back and remove vmm's after the
    commit.  Returns (what was restored: a Previous or None when the
    active script was not vmm's, warnings)."""
    try:
        home = _Home(handler, account)
    except VMMError as err:
        if err.code != errors.NO_SUCH_DIRECTORY:
            raise
        return None, [err.msg]
    plan = _Plan(handler, home)
    warnings = []
    restored = None
    try:
        try:
            state = home.active()
            sieve_fd = home.open_sieve()
            home.sweep()
            if state[0] == 'ours':
                restored = home.our_previous() or Previous('none')
                if restored.kind != 'none' and not home.script_exists(
                        restored.name, regular=restored.kind == 'file'):
                    warnings.append(
                        _("The Sieve script '%(name)s' that was active "
                          "before the vacation no longer exists; '%(path)s' "
                          'is removed') % {'name': restored.name,
                                           'path': home.where(ACTIVE)})
                    restored = Previous('none')
                if restored.kind == 'link':
                    link = _symlink_temp(home.fd, restored.value, home.uid,
                                         home.gid)
                    plan.temps.append((home.fd, link))
                    plan.rename(home.fd, link, home.fd, ACTIVE)
                elif restored.kind == 'file':
                    temp = _temp_name(ACTIVE + _TEMP_PREFIX)
                    os.link(restored.value + '.sieve', temp,
                            src_dir_fd=sieve_fd, dst_dir_fd=home.fd,
                            follow_symlinks=False)
                    plan.temps.append((home.fd, temp))
                    plan.rename(home.fd, temp, home.fd, ACTIVE)
                else:
                    plan.unlink(home.fd, ACTIVE)
                # The vacation compiled: a file put back keeps its older
                # mtime, so Pigeonhole would take this binary as current.
                plan.unlink(home.fd, ACTIVE_BINARY)
                if restored.kind == 'file':
                    plan.unlink(sieve_fd, restored.value + '.sieve')
            if sieve_fd is not None:
                plan.unlink(sieve_fd, SCRIPT_FILE)
                plan.unlink(sieve_fd, BINARY_FILE)
        except OSError as err:
            raise _os_error(home, err) from None
    except BaseException:
        plan.rollback()
        raise
    plan.register()
    return restored, warnings


def _inspect(handler, account):
    """What the files say, for --show: a dict with 'files' one of
    'pending' (a batch changes them at its commit), 'unknown' ('reason'
    says why) or 'read', then 'state' (see _Home.active), 'previous'
    (recorded in vmm's active script, or None) and 'ours' (vmm's script is
    there)."""
    if account.uid in _PENDING.get(handler, {}):
        return {'files': 'pending'}
    home = None
    try:
        home = _Home(handler, account, lock=False)
        state = home.active()
        previous = home.our_previous() if state[0] == 'ours' else None
        return {'files': 'read', 'state': state, 'previous': previous,
                'ours': home.script_exists(SCRIPT_NAME)}
    except VMMError as err:
        return {'files': 'unknown', 'reason': err.msg}
    except OSError as err:
        return {'files': 'unknown', 'reason': err.strerror or str(err)}
    finally:
        if home is not None:
            home.close()


# ---------------------------------------------------------------------------
# The subcommand's work
# ---------------------------------------------------------------------------

def _lock_account(handler, text):
    account = handler.account(text)
    if account.uid in _PENDING.get(handler, {}):
        # One transaction (a batch) changing it twice: the second change
        # would be planned from files the first has not changed yet.
        raise VMMError(_("The vacation of '%s' was changed already in this "
                         'transaction; change it once per batch')
                       % account.unicode, errors.VMM_ERROR)
    handler.cur.execute('SELECT 1 FROM users WHERE uid = %s FOR UPDATE',
                        (account.uid,))
    return account


def read_settings(cur, uid):
    """The account's :class:`Settings`, or None when it never had any."""
    cur.execute('SELECT active, subject, body, date_from, date_until, days '
                'FROM vacation WHERE uid = %s', (uid,))
    row = cur.fetchone()
    return Settings(*row) if row else None


def vacation_on(handler, text, subject, body, date_from=None,
                date_until=None, days=None):
    """Switch the vacation of the account *text* on (or change it)."""
    from vmm.jail import require_root
    settings = Settings(True, check_subject(subject), check_body(body),
                        date_from, date_until, check_days(days))
    check_dates(date_from, date_until)
    require_root()
    account = _lock_account(handler, text)
    handler.cur.execute(
        'INSERT INTO vacation (uid, active, subject, body, date_from, '
        'date_until, days) VALUES (%s, TRUE, %s, %s, %s, %s, %s) '
        'ON CONFLICT (uid) DO UPDATE SET active = TRUE, '
        'subject = EXCLUDED.subject, body = EXCLUDED.body, '
        'date_from = EXCLUDED.date_from, date_until = EXCLUDED.date_until, '
        'days = EXCLUDED.days',
        (account.uid, settings.subject, settings.body, date_from,
         date_until, settings.days))
    handler.log(_('vacation of %s switched on') % account.address,
                account.address)
    if date_until and date_until < datetime.date.today():
        handler.warnings.append(
            _('The vacation ended on %s: no replies will be sent')
            % date_until.isoformat())
    previous = _prepare_on(handler, account, settings)
    return account, previous


def vacation_off(handler, text):
    """Switch the vacation of the account *text* off; the row is kept
    (inactive) for --show.  Returns (account, Previous restored or None,
    whether it was on)."""
    from vmm.jail import require_root
    require_root()
    account = _lock_account(handler, text)
    settings = read_settings(handler.cur, account.uid)
    was_on = bool(settings and settings.active)
    if was_on:
        handler.cur.execute('UPDATE vacation SET active = FALSE '
                            'WHERE uid = %s', (account.uid,))
        handler.log(_('vacation of %s switched off') % account.address,
                    account.address)
    restored, warnings = _prepare_off(handler, account)
    handler.warnings.extend(warnings)
    if not was_on:
        handler.warnings.append(_("The vacation of '%s' was not on")
                                % account.unicode)
    return account, restored, was_on


def vacation_show(handler, text):
    """(account, Settings or None, what the files say: see _inspect)."""
    account = handler.account(text)
    return (account, read_settings(handler.cur, account.uid),
            _inspect(handler, account))
