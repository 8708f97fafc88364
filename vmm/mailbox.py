"""Mail directories on disk: domain directories, homes and mailboxes.

Everything here is called by the handler layer; failures raise
:class:`~vmm.errors.VMMError` with the exit code of SPEC §8 and nothing
is printed.

Layout and decisions (SPEC §4 "Domains", "Accounts")
----------------------------------------------------

``misc.base_directory/<hex digit>/<gid>``
    The domain directory, owned ``root:<gid>`` with ``domain.directory_mode``.
    The one-hex-digit parent is created on demand owned ``root:root`` with
    mode ``0o711`` (:data:`HASH_DIRECTORY_MODE`): every account's Dovecot
    process (each domain has its own GID) can traverse it, nobody but root
    can list or change it.

``<domain directory>/<uid>``
    The account's home, owned ``uid:gid`` with ``account.directory_mode``.

``<home>/<mailbox.root>``
    The mailbox.  For ``maildir``: ``cur new tmp`` and one Maildir++
    folder ``.<name>`` per configured folder, exactly as Dovecot 2.3 creates
    them itself: the hierarchy separator on disk is ``.``, so ``Lists.Dovecot``
    is the single directory ``.Lists.Dovecot`` and its parent ``Lists`` needs
    no directory of its own (Dovecot shows it as a non-existent parent);
    names are stored in IMAP modified UTF-7 (``Entwürfe`` → ``.Entw&APw-rfe``);
    each folder holds an empty ``maildirfolder`` file.  With ``subscribe``
    the file ``subscriptions`` is written in the format Dovecot 2.3 writes:
    the header line ``V<TAB>2``, an empty line, then one line per folder with
    the hierarchy levels separated by a TAB and each level in modified UTF-7
    (``Lists<TAB>Dovecot``).  Files get the directory mode without the
    execute bits (``0o700`` → ``0o600``), as Dovecot does.
    For ``sdbox`` and ``mdbox`` the root directory is made here (so that
    Dovecot copies its owner and mode), then ``doveadm mailbox create``
    makes ``INBOX`` and the folders, run with a private configuration of its
    own (the server's Dovecot need not be configured for vmm): no userdb
    lookup, ``mail_uid``/``mail_gid``/``mail_home``/``mail_location`` given
    on the command line, so doveadm drops to the account's uid:gid and
    everything it writes belongs to the account.  The namespace separator of
    that configuration is ``/``, so ``Lists.Dovecot`` becomes the
    ``mailboxes/Lists/Dovecot`` hierarchy that Dovecot reads as nested with
    whatever separator the server itself uses.

Directory safety: :class:`DirectoryJail` never creates or removes anything
outside the real path of ``misc.base_directory``; it walks every path
component with ``O_NOFOLLOW`` directory descriptors, so a symbolic link
anywhere along the way is refused instead of followed.
"""

import os
import stat

from vmm.errors import (MAILLOCATION_INIT, NO_SUCH_BINARY, NO_SUCH_DIRECTORY,
                        NOT_EXECUTABLE, VMM_ERROR, VMMError)
from vmm.i18n import _

__all__ = ('FORMATS', 'HASH_DIRECTORY_MODE', 'DirectoryJail',
           'check_folder_name', 'create_mailbox', 'disk_usage', 'imap_utf7_decode',
           'imap_utf7_encode', 'parse_folders', 'require_root')

#: The mailbox formats vmm can create.
FORMATS = ('maildir', 'sdbox', 'mdbox')

#: Mode of the ``<hex digit>`` directories between base and domain directory.
HASH_DIRECTORY_MODE = 0o711

#: Prefix of the sibling a directory is renamed to before it is removed.
TRASH_PREFIX = '.vmm-trash-'

_NAME_MAX = 255
_DIR_FLAGS = (os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
              | getattr(os, 'O_CLOEXEC', 0))
_MAILDIR_SUBDIRS = ('cur', 'new', 'tmp')


# ---------------------------------------------------------------------------
# Folder names
# ---------------------------------------------------------------------------

def _check_component(component):
    """Raise ValueError unless *component* is one valid hierarchy level."""
    if not component:
        raise ValueError(_('a folder name must not be empty and must not '
                           'begin or end with a dot or contain two dots in '
                           'a row'))
    if component != component.strip():
        raise ValueError(_('a folder name must not begin or end with '
                           'white space'))
    if component.startswith('~'):
        raise ValueError(_("a folder name must not begin with '~'"))


def check_folder_name(name):
    """Raise ValueError (translated reason) unless *name* is a valid folder.

    *name* is a folder of ``mailbox.folders``: levels separated by ``.``.
    """
    import unicodedata

    if not isinstance(name, str):
        raise ValueError(_('a folder name must be text'))
    for char in name:
        if char == '\0' or unicodedata.category(char) in ('Cc', 'Cs'):
            raise ValueError(_('a folder name must not contain control '
                               'characters or NUL'))
    if '/' in name:
        raise ValueError(_("a folder name must not contain '/'"))
    if '*' in name or '%' in name:
        raise ValueError(_("a folder name must not contain the IMAP "
                           "wildcards '*' and '%'"))
    for component in name.split('.'):
        _check_component(component)
    if name.upper() == 'INBOX':
        raise ValueError(_('INBOX always exists and cannot be a folder'))
    if len(('.' + imap_utf7_encode(name)).encode('ascii')) > _NAME_MAX:
        raise ValueError(_('a folder name is too long'))


def parse_folders(text):
    """Split the colon-separated ``mailbox.folders`` option into names.

    ``.`` nests (``Lists.Dovecot`` is ``Dovecot`` inside ``Lists``); blanks
    around a name are ignored; an empty string gives ``()``.  Raises
    ValueError with a translated reason for an invalid or repeated name.
    """
    if text is None:
        return ()
    text = text.strip(' \t')
    if not text:
        return ()
    folders = []
    for entry in text.split(':'):
        name = entry.strip(' \t')
        try:
            check_folder_name(name)
        except ValueError as err:
            if not name:
                raise
            raise ValueError('%s: %s' % (name, err)) from None
        if name in folders:
            raise ValueError(_('folder %s is named twice') % name)
        folders.append(name)
    return tuple(folders)


# ---------------------------------------------------------------------------
# IMAP modified UTF-7 (RFC 3501 section 5.1.3)
# ---------------------------------------------------------------------------

def imap_utf7_encode(name):
    """Encode *name* in IMAP modified UTF-7 (RFC 3501 5.1.3).

    Printable ASCII stands for itself, ``&`` becomes ``&-``, every other
    run of characters is UTF-16BE in base64 with ``,`` for ``/``, without
    padding, between ``&`` and ``-``.  ValueError for text that is not
    valid Unicode (lone surrogates).
    """
    import binascii

    out = []
    run = []

    def flush():
        if run:
            try:
                raw = ''.join(run).encode('utf-16-be')
            except UnicodeEncodeError:
                raise ValueError(_('not valid Unicode text')) from None
            b64 = binascii.b2a_base64(raw, newline=False).decode('ascii')
            out.append('&' + b64.rstrip('=').replace('/', ',') + '-')
            run.clear()

    for char in name:
        if '\x20' <= char <= '\x7e':
            flush()
            out.append('&-' if char == '&' else char)
        else:
            run.append(char)
    flush()
    return ''.join(out)


def imap_utf7_decode(text):
    """Decode IMAP modified UTF-7 *text*; ValueError when it is malformed."""
    import binascii

    out = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if not '\x20' <= char <= '\x7e':
            raise ValueError(_('not modified UTF-7: character %r') % char)
        if char != '&':
            out.append(char)
            pos += 1
            continue
        end = text.find('-', pos + 1)
        if end < 0:
            raise ValueError(_('not modified UTF-7: unterminated shift'))
        b64 = text[pos + 1:end]
        pos = end + 1
        if not b64:
            out.append('&')
            continue
        if '/' in b64 or '=' in b64 or len(b64) % 4 == 1:
            raise ValueError(_('not modified UTF-7: bad base64'))
        b64 = b64.replace(',', '/') + '=' * (-len(b64) % 4)
        try:
            raw = binascii.a2b_base64(b64.encode('ascii'))
            if len(raw) % 2:
                raise ValueError
            out.append(raw.decode('utf-16-be'))
        except (ValueError, binascii.Error, UnicodeError):
            raise ValueError(_('not modified UTF-7: bad base64')) from None
    return ''.join(out)


# ---------------------------------------------------------------------------
# Privileges and directory safety
# ---------------------------------------------------------------------------

def require_root():
    """Raise VMMError (67) unless running with effective UID 0."""
    if os.geteuid() != 0:
        raise VMMError(_('vmm must be run as root to create or delete mail '
                         'directories.'), VMM_ERROR)


def _check_mode(mode):
    if isinstance(mode, bool) or not isinstance(mode, int) \
            or not 0 <= mode <= 0o7777:
        raise VMMError(_('Invalid directory mode: %r') % (mode,), VMM_ERROR)
    return mode


def _check_id(number):
    if isinstance(number, bool) or not isinstance(number, int) \
            or number < 0:
        raise VMMError(_('Invalid user or group ID: %r') % (number,),
                       VMM_ERROR)
    return number


def close_fd(fd):
    """Close *fd* if there is one, ignoring errors (cleanup paths)."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def lstat_at(name, dir_fd):
    """lstat *name* in *dir_fd*; None when it does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


class DirectoryJail:
    """Creates and removes directories only inside ``misc.base_directory``.

    A path is accepted when it is absolute, has no ``..`` component and
    lies below the configured base directory or below its real path (the
    base itself may be reached through a symbolic link).  Below the base,
    every component is opened with ``O_NOFOLLOW``: an existing symbolic
    link anywhere along the way is refused, never followed.  Refusals are
    VMMError 67; a missing base directory is VMMError 56.
    """

    def __init__(self, base_directory):
        if not isinstance(base_directory, str) or '\0' in base_directory \
                or not os.path.isabs(base_directory):
            raise VMMError(_('The base directory must be an absolute path: '
                             '%r') % (base_directory,), VMM_ERROR)
        self.base_directory = os.path.normpath(base_directory)

    def __repr__(self):
        return 'DirectoryJail(%r)' % self.base_directory

    # -- path handling --------------------------------------------------

    @property
    def real_base(self):
        """The real path of the base directory; VMMError 56 if missing."""
        real = os.path.realpath(self.base_directory)
        if not os.path.isdir(real):
            raise VMMError(_('The base directory %s does not exist.')
                           % self.base_directory, NO_SUCH_DIRECTORY)
        return real

    def new_domain_path(self, gid):
        """``base/<random hex digit>/<gid>`` for a new domain."""
        import secrets
        return os.path.join(self.base_directory,
                            secrets.choice('0123456789abcdef'),
                            str(_check_id(gid)))

    def _refuse(self, path, why):
        raise VMMError(_('Refusing to touch %(path)s: %(reason)s')
                       % {'path': path, 'reason': why}, VMM_ERROR)

    def _parts(self, path):
        """The components of *path* below the real base (may be empty)."""
        if not isinstance(path, str) or '\0' in path:
            self._refuse(repr(path), _('not a valid path'))
        if not os.path.isabs(path):
            self._refuse(path, _('not an absolute path'))
        if '..' in path.split('/'):
            self._refuse(path, _("a path must not contain '..'"))
        norm = os.path.normpath(path)
        real = self.real_base
        for prefix in (self.base_directory, real):
            if norm == prefix:
                return ()
            if os.path.commonpath((prefix, norm)) == prefix:
                rel = os.path.relpath(norm, prefix)
                return tuple(rel.split('/'))
        self._refuse(path, _('it is outside the base directory %s')
                     % self.base_directory)

    def _at(self, parts, index):
        """The path of component *index* of *parts*, for messages."""
        return os.path.join(self.base_directory, *parts[:index + 1])

    def _open_parts(self, path, parts):
        """A descriptor of the directory *parts* below the base.

        Returns None when a component does not exist; refuses symbolic
        links and non-directories.
        """
        fd = os.open(self.real_base, _DIR_FLAGS & ~os.O_NOFOLLOW)
        try:
            for index, part in enumerate(parts):
                st = lstat_at(part, fd)
                if st is None:
                    close_fd(fd)
                    return None
                if stat.S_ISLNK(st.st_mode):
                    self._refuse(path, _('%s is a symbolic link')
                                 % self._at(parts, index))
                if not stat.S_ISDIR(st.st_mode):
                    self._refuse(path, _('%s is not a directory')
                                 % self._at(parts, index))
                try:
                    new = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as err:
                    self._refuse(path, err.strerror)
                os.close(fd)
                fd = new
        except BaseException:
            close_fd(fd)
            raise
        return fd

    # -- creation ---------------------------------------------------------

    def _make(self, path, uid, gid, mode, parents):
        require_root()
        _check_mode(mode)
        _check_id(uid)
        _check_id(gid)
        parts = self._parts(path)
        if not parts:
            self._refuse(path, _('it is the base directory itself'))
        created = []          # (dir_fd, name), newest last, for rollback
        fds = []
        try:
            fd = os.open(self.real_base, _DIR_FLAGS & ~os.O_NOFOLLOW)
            fds.append(fd)
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                made = False
                st = lstat_at(part, fd)
                if st is not None:
                    if stat.S_ISLNK(st.st_mode):
                        self._refuse(path, _('%s is a symbolic link')
                                     % self._at(parts, index))
                    if last:
                        raise VMMError(_('The directory %s already exists.')
                                       % path, VMM_ERROR)
                    if not stat.S_ISDIR(st.st_mode):
                        self._refuse(path, _('%s is not a directory')
                                     % self._at(parts, index))
                else:
                    if not last and not parents:
                        raise VMMError(
                            _('The directory %s does not exist.')
                            % os.path.dirname(os.path.normpath(path)),
                            NO_SUCH_DIRECTORY)
                    try:
                        os.mkdir(part, 0o700, dir_fd=fd)
                    except FileExistsError:
                        raise VMMError(_('The directory %s already exists.')
                                       % path, VMM_ERROR) from None
                    created.append((fd, part))
                    made = True
                new = os.open(part, _DIR_FLAGS, dir_fd=fd)
                fds.append(new)
                if made:
                    if last:
                        os.fchown(new, uid, gid)
                        os.fchmod(new, mode)
                    else:
                        os.fchown(new, 0, 0)
                        os.fchmod(new, HASH_DIRECTORY_MODE)
                fd = new
        except OSError as err:
            self._rollback(created)
            raise VMMError(_('Cannot create the directory %(path)s: '
                             '%(reason)s') % {'path': path,
                                              'reason': err.strerror},
                           VMM_ERROR) from None
        except BaseException:
            self._rollback(created)
            raise
        finally:
            for fd in fds:
                close_fd(fd)
        return path

    @staticmethod
    def _rollback(created):
        for dir_fd, name in reversed(created):
            try:
                os.rmdir(name, dir_fd=dir_fd)
            except OSError:
                pass

    def make_domain_directory(self, path, gid, mode):
        """Create the domain directory *path*, owned root:*gid*, *mode*.

        Missing directories between the base and *path* (the hex digit) are
        made root:root with :data:`HASH_DIRECTORY_MODE`.  An existing *path*
        is an error (67).  Returns *path*.
        """
        return self._make(path, 0, gid, mode, parents=True)

    def make_home(self, path, uid, gid, mode):
        """Create the account home *path*, owned *uid*:*gid*, *mode*.

        Its parent (the domain directory) must exist (else 56); an existing
        *path* is an error (67).  Returns *path*.
        """
        return self._make(path, uid, gid, mode, parents=False)

    # -- removal ----------------------------------------------------------

    def _split_for_removal(self, path):
        parts = self._parts(path)
        if not parts:
            self._refuse(path, _('it is the base directory itself'))
        return parts[:-1], parts[-1]

    def stash(self, path):
        """Move the directory *path* aside to a sibling trash name.

        Returns the trash path (for :meth:`restore` or :meth:`purge`), or
        None when *path* does not exist.  After this the live path is gone
        at once; nothing half-removed can remain there.
        """
        import secrets

        require_root()
        parents, name = self._split_for_removal(path)
        pfd = self._open_parts(path, parents)
        if pfd is None:
            return None
        try:
            st = lstat_at(name, pfd)
            if st is None:
                return None
            if stat.S_ISLNK(st.st_mode):
                self._refuse(path, _('%s is a symbolic link') % path)
            if not stat.S_ISDIR(st.st_mode):
                self._refuse(path, _('%s is not a directory') % path)
            trash = '%s%d-%s' % (TRASH_PREFIX, os.getpid(),
                                 secrets.token_hex(8))
            try:
                os.rename(name, trash, src_dir_fd=pfd, dst_dir_fd=pfd)
            except OSError as err:
                raise VMMError(_('Cannot remove the directory %(path)s: '
                                 '%(reason)s') % {'path': path,
                                                  'reason': err.strerror},
                               VMM_ERROR) from None
        finally:
            close_fd(pfd)
        return os.path.join(os.path.dirname(os.path.normpath(path)), trash)

    def restore(self, trash, path):
        """Move a :meth:`stash`-ed directory back to *path*."""
        require_root()
        tparents, tname = self._split_for_removal(trash)
        parents, name = self._split_for_removal(path)
        if tparents != parents or not tname.startswith(TRASH_PREFIX):
            self._refuse(trash, _('not a trash directory of %s') % path)
        pfd = self._open_parts(path, parents)
        if pfd is None:
            raise VMMError(_('The directory %s does not exist.')
                           % os.path.dirname(path), NO_SUCH_DIRECTORY)
        try:
            if lstat_at(name, pfd) is not None:
                raise VMMError(_('The directory %s already exists.') % path,
                               VMM_ERROR)
            os.rename(tname, name, src_dir_fd=pfd, dst_dir_fd=pfd)
        except OSError as err:
            raise VMMError(_('Cannot restore the directory %(path)s: '
                             '%(reason)s') % {'path': path,
                                              'reason': err.strerror},
                           VMM_ERROR) from None
        finally:
            close_fd(pfd)

    def purge(self, trash):
        """Remove a :meth:`stash`-ed directory tree for good."""
        import shutil

        if trash is None:
            return False
        require_root()
        parents, name = self._split_for_removal(trash)
        if not name.startswith(TRASH_PREFIX):
            self._refuse(trash, _('not a trash directory'))
        pfd = self._open_parts(trash, parents)
        if pfd is None:
            return False
        try:
            st = lstat_at(name, pfd)
            if st is None:
                return False
            if not stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
                self._refuse(trash, _('%s is not a directory') % trash)
            # The fd-based rmtree never follows symbolic links in the tree.
            shutil.rmtree(name, dir_fd=pfd)
        except OSError as err:
            raise VMMError(_('Cannot remove the directory %(path)s '
                             'completely: %(reason)s') % {
                                 'path': trash,
                                 'reason': err.strerror or str(err)},
                           VMM_ERROR) from None
        finally:
            close_fd(pfd)
        return True

    def remove_tree(self, path):
        """Remove the directory *path* with everything in it.

        Refuses (67) the base itself, anything outside it and symbolic
        links; a missing *path* returns False, a removed one True.  The tree
        is first renamed to a sibling trash name, then deleted, so a failure
        half-way never leaves a half-removed tree at *path*.
        """
        trash = self.stash(path)
        if trash is None:
            return False
        return self.purge(trash)


# ---------------------------------------------------------------------------
# Mailboxes
# ---------------------------------------------------------------------------

def _check_binary(binary):
    if not binary or not os.path.isabs(binary) or not os.path.exists(binary):
        raise VMMError(_('No such binary: %s') % binary, NO_SUCH_BINARY)
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        raise VMMError(_('%s is not an executable file') % binary,
                       NOT_EXECUTABLE)


def _folder_list(folders):
    if folders is None:
        return ()
    if isinstance(folders, str):
        folders = parse_folders(folders)
    seen = []
    for name in folders:
        try:
            check_folder_name(name)
        except ValueError as err:
            raise VMMError(_('Invalid folder name %(name)r: %(reason)s')
                           % {'name': name, 'reason': err},
                           MAILLOCATION_INIT) from None
        if name not in seen:
            seen.append(name)
    return tuple(seen)


def _mkdir_owned(name, dir_fd, uid, gid, mode):
    """mkdir *name* in *dir_fd*, chown/chmod it; return its descriptor."""
    os.mkdir(name, 0o700, dir_fd=dir_fd)
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_owned(name, dir_fd, uid, gid, mode, data=b''):
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                 | getattr(os, 'O_CLOEXEC', 0), 0o600, dir_fd=dir_fd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _make_maildir(root_fd, uid, gid, mode, folders, subscribe):
    file_mode = mode & 0o666
    for sub in _MAILDIR_SUBDIRS:
        os.close(_mkdir_owned(sub, root_fd, uid, gid, mode))
    for name in folders:
        fd = _mkdir_owned('.' + imap_utf7_encode(name), root_fd, uid, gid,
                          mode)
        try:
            for sub in _MAILDIR_SUBDIRS:
                os.close(_mkdir_owned(sub, fd, uid, gid, mode))
            _write_owned('maildirfolder', fd, uid, gid, file_mode)
        finally:
            os.close(fd)
    if subscribe and folders:
        lines = ['V\t2', '']
        lines += ['\t'.join(imap_utf7_encode(level)
                            for level in name.split('.'))
                  for name in folders]
        _write_owned('subscriptions', root_fd, uid, gid, file_mode,
                     ('\n'.join(lines) + '\n').encode('ascii'))


# The private configuration doveadm runs with: no services, no userdb, logs
# to stderr.  Everything account-specific is passed with -o (values given
# with -o are taken literally, without %-variable expansion).
_DOVEADM_CONFIG = """\
# written by vmm for one doveadm run
log_path = /dev/stderr
info_log_path = /dev/null
first_valid_uid = 1
first_valid_gid = 1
mail_plugins =
namespace inbox {
  inbox = yes
  separator = /
  prefix =
}
"""


def _first_error(stderr, returncode):
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if 'Error:' in line or 'Fatal:' in line or 'Panic:' in line:
            for mark in ('Error:', 'Fatal:', 'Panic:'):
                if mark in line:
                    return line.split(mark, 1)[1].strip()
    if lines:
        return lines[0]
    return _('exit status %d') % returncode


def _run_doveadm(doveadm, home, uid, gid, fmt, root, user, args):
    """Run ``doveadm ARGS`` for the account, with a private configuration."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix='vmm-doveadm-') as tmp:
        conf = os.path.join(tmp, 'dovecot.conf')
        for sub in ('run', 'state'):
            os.mkdir(os.path.join(tmp, sub), 0o700)
        with open(conf, 'w', encoding='utf-8') as handle:
            handle.write(_DOVEADM_CONFIG)
        location = '%s:~/%s' % (fmt, root.replace(':', '::'))
        cmd = [doveadm, '-c', conf,
               '-o', 'base_dir=' + os.path.join(tmp, 'run'),
               '-o', 'state_dir=' + os.path.join(tmp, 'state'),
               '-o', 'mail_uid=%d' % uid,
               '-o', 'mail_gid=%d' % gid,
               '-o', 'mail_home=' + home,
               '-o', 'mail_location=' + location] + list(args)
        env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL': 'C',
               'USER': user or 'vmm'}
        try:
            proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=300,
                                  cwd=tmp)
        except subprocess.TimeoutExpired:
            raise VMMError(_('doveadm did not finish in time'),
                           MAILLOCATION_INIT) from None
        except OSError as err:
            raise VMMError(_('Cannot run %(binary)s: %(reason)s')
                           % {'binary': doveadm, 'reason': err.strerror},
                           NOT_EXECUTABLE) from None
    if proc.returncode != 0:
        detail = _first_error(proc.stderr.decode('utf-8', 'replace'),
                              proc.returncode)
        raise VMMError(_('Cannot create the mailbox: doveadm: %s') % detail,
                       MAILLOCATION_INIT)


def create_mailbox(home, uid, gid, mode, fmt, root, folders, subscribe, user,
                   doveadm='/usr/bin/doveadm'):
    """Create the mailbox ``home/root`` in *fmt* for the account.

    *home* must be an existing directory (56 if not); ``home/root`` must not
    exist yet (70).  Directories get *mode* and belong to *uid*:*gid*.
    *folders* is a tuple of names as :func:`parse_folders` returns (a
    string is parsed); with *subscribe* they are subscribed.  *user* is the
    account's address (doveadm's log name).  An unknown *fmt* or a failure
    of doveadm is VMMError 70; a missing doveadm 55, one that is not
    executable 51.  On failure everything this call made is removed again.
    """
    if fmt not in FORMATS:
        raise VMMError(_('Unknown mailbox format: %s') % (fmt,),
                       MAILLOCATION_INIT)
    if not isinstance(root, str) or not root or root in ('.', '..') \
            or '/' in root or '\0' in root:
        raise VMMError(_('Invalid mailbox root directory: %r') % (root,),
                       MAILLOCATION_INIT)
    _check_mode(mode)
    _check_id(uid)
    _check_id(gid)
    folders = _folder_list(folders)
    if not isinstance(home, str) or not os.path.isabs(home):
        raise VMMError(_('The home directory must be an absolute path: %r')
                       % (home,), VMM_ERROR)
    if fmt != 'maildir':
        _check_binary(doveadm)
    require_root()
    try:
        home_fd = os.open(home, _DIR_FLAGS)
    except FileNotFoundError:
        raise VMMError(_('The directory %s does not exist.') % home,
                       NO_SUCH_DIRECTORY) from None
    except OSError as err:
        raise VMMError(_('Cannot use the home directory %(path)s: '
                         '%(reason)s') % {'path': home,
                                          'reason': err.strerror},
                       VMM_ERROR) from None
    created = False
    try:
        try:
            root_fd = _mkdir_owned(root, home_fd, uid, gid, mode)
        except FileExistsError:
            raise VMMError(_('The mailbox %s already exists.')
                           % os.path.join(home, root),
                           MAILLOCATION_INIT) from None
        created = True
        try:
            if fmt == 'maildir':
                _make_maildir(root_fd, uid, gid, mode, folders, subscribe)
        finally:
            os.close(root_fd)
        if fmt != 'maildir':
            run = lambda args: _run_doveadm(doveadm, home, uid, gid, fmt,
                                            root, user, args)
            run(['mailbox', 'create', 'INBOX'])
            if folders:
                names = [name.replace('.', '/') for name in folders]
                run(['mailbox', 'create'] + (['-s'] if subscribe else [])
                    + ['--'] + names)
    except BaseException as err:
        if created:
            import shutil
            try:
                shutil.rmtree(root, dir_fd=home_fd)
            except OSError:
                pass
        if isinstance(err, OSError):
            raise VMMError(_('Cannot create the mailbox %(path)s: '
                             '%(reason)s') % {
                                 'path': os.path.join(home, root),
                                 'reason': err.strerror or str(err)},
                           MAILLOCATION_INIT) from None
        raise
    finally:
        os.close(home_fd)
    return os.path.join(home, root)


# ---------------------------------------------------------------------------
# Disk usage
# ---------------------------------------------------------------------------

def disk_usage(du, path):
    """Bytes used below *path*, from ``du -sb`` (``du -sk`` × 1024 where
    ``-b`` is not supported).  Missing du 55, not executable 51, missing
    *path* 56, other failures 67."""
    import subprocess

    _check_binary(du)
    if not os.path.lexists(path):
        raise VMMError(_('The directory %s does not exist.') % path,
                       NO_SUCH_DIRECTORY)
    error = ''
    for option, factor in (('-sb', 1), ('-sk', 1024)):
        try:
            proc = subprocess.run([du, option, '--', path],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  env={'PATH': '/usr/bin:/bin',
                                       'LC_ALL': 'C'})
        except OSError as err:
            raise VMMError(_('Cannot run %(binary)s: %(reason)s')
                           % {'binary': du, 'reason': err.strerror},
                           NOT_EXECUTABLE) from None
        fields = proc.stdout.split()
        if proc.returncode == 0 and fields and fields[0].isdigit():
            return int(fields[0]) * factor
        error = _first_error(proc.stderr.decode('utf-8', 'replace'),
                             proc.returncode)
    raise VMMError(_('Cannot determine the disk usage of %(path)s: '
                     '%(reason)s') % {'path': path, 'reason': error},
                   VMM_ERROR)
