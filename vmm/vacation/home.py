"""The Sieve files below an account's home, reached through directory
descriptors, and the plan of changes made to them after the commit."""

import contextlib
import os
import secrets
import stat
import weakref

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.jail import close_fd, lstat_at, make_directory_at, write_file_at
from vmm.text import has_control, printable
from vmm.vacation.sieve import (
    ACTIVE,
    SCRIPT_FILE,
    SCRIPT_NAME,
    SIEVE_DIR,
    link_script_name,
    parse_previous,
)

#: The name a regular ``~/.dovecot.sieve`` has in ``~/sieve`` while the
#: vacation is on (``-2``, ``-3``, ... appended should it be taken).
SAVED_NAME = 'vmm-saved-dovecot-sieve'

_MODE_FILE = 0o600
_MODE_DIR = 0o700
TEMP_PREFIX = '.vmm-tmp-'
_DIR_FLAGS = (os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
              | getattr(os, 'O_CLOEXEC', 0))
_READ_LIMIT = 4 * 1024 * 1024

#: handler -> {uid: Plan} of the file changes waiting for its commit.
PENDING = weakref.WeakKeyDictionary()


def _refuse(path, reason):
    raise VMMError(_('Refusing to touch %(path)s: %(reason)s')
                   % {'path': path, 'reason': reason}, errors.VMM_ERROR)


def _unlink(name, dir_fd):
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def temp_name(prefix=TEMP_PREFIX):
    return '%s%d-%s' % (prefix, os.getpid(), secrets.token_hex(6))


def write_temp(dir_fd, data, uid, gid):
    """Write *data* to a new temporary file in *dir_fd*; its name."""
    name = temp_name()
    write_file_at(name, dir_fd, data, uid, gid, _MODE_FILE)
    return name


def symlink_temp(dir_fd, target, uid, gid):
    name = temp_name(ACTIVE + TEMP_PREFIX)
    os.symlink(target, name, dir_fd=dir_fd)
    try:
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
    except BaseException:
        _unlink(name, dir_fd)
        raise
    return name


def read_text(name, dir_fd):
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


class Home:
    """The account's home and ``~/sieve``, as directory descriptors, with
    the home locked (``flock``) until :meth:`close`."""

    def __init__(self, handler, account, lock=True):
        self.account = account
        self.path = account.home
        self.uid, self.gid = account.uid, account.domain.gid
        self.fd = self.sieve_fd = None
        self.created_sieve = False
        self.fd = handler.jail.open_below(self.path)
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
            self.sieve_fd = make_directory_at(SIEVE_DIR, self.fd, self.uid,
                                              self.gid, _MODE_DIR)
            self.created_sieve = True
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
            name = None if has_control(target) else \
                link_script_name(target, self.path)
            if name is None:
                _refuse(path, _("it is a symbolic link to '%s', not to a "
                                'script in ~/sieve') % printable(target, 60))
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
        text = read_text(SCRIPT_FILE, sieve_fd)
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
        for fd, prefix in ((self.fd, ACTIVE + TEMP_PREFIX),
                           (self.sieve_fd, TEMP_PREFIX)):
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


def os_error(home, err):
    return VMMError(_('Cannot change the Sieve scripts in %(path)s: '
                      '%(reason)s') % {'path': home.path,
                                       'reason': err.strerror or str(err)},
                    errors.VMM_ERROR)


class Plan:
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

    @contextlib.contextmanager
    def preparing(self):
        """Prepare the steps in the with-block: an OSError becomes the
        error that names the home, any failure removes what was prepared,
        and success hands the plan to the transaction."""
        try:
            try:
                yield self
            except OSError as err:
                raise os_error(self.home, err) from None
        except BaseException:
            self.rollback()
            raise
        self.register()

    def register(self):
        self.handler.on_rollback(self.rollback)
        self.handler.after_commit(self.commit)
        PENDING.setdefault(self.handler, {})[self.home.uid] = self

    def _forget(self):
        self.done = True
        pending = PENDING.get(self.handler, {})
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


def saved_name(sieve_fd):
    for number in range(1, 1000):
        name = SAVED_NAME if number == 1 else '%s-%d' % (SAVED_NAME, number)
        if lstat_at(name + '.sieve', sieve_fd) is None:
            return name
    raise VMMError(_('Too many saved Sieve scripts in ~/sieve'),
                   errors.VMM_ERROR)
