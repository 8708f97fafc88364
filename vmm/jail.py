"""Where vmm may touch the file system: only inside misc.base_directory.

:class:`DirectoryJail` never creates, moves or removes anything outside
the real path of ``misc.base_directory``; it walks every path component
with ``O_NOFOLLOW`` directory descriptors, so a symbolic link anywhere
along the way is refused instead of followed.  The domain directories are
``base/<hex digit>/<gid>``; the one-hex-digit parents are created on
demand owned ``root:root`` with mode ``0o711`` (:data:`HASH_DIRECTORY_MODE`):
every account's Dovecot process (each domain has its own GID) can
traverse them, nobody but root can list or change them.
"""

import os
import stat

from vmm.errors import NO_SUCH_DIRECTORY, VMM_ERROR, VMMError
from vmm.i18n import _

#: Mode of the directories vmm makes between the base and a domain
#: directory (the ``<hex digit>``).
HASH_DIRECTORY_MODE = 0o711

DIR_FLAGS = (os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
             | getattr(os, 'O_CLOEXEC', 0))


def require_root():
    """Raise VMMError (67) unless running with effective UID 0."""
    if os.geteuid() != 0:
        raise VMMError(_('vmm must be run as root to create or delete mail '
                         'directories.'), VMM_ERROR)


def check_mode(mode):
    if isinstance(mode, bool) or not isinstance(mode, int) \
            or not 0 <= mode <= 0o7777:
        raise VMMError(_('Invalid directory mode: %r') % (mode,), VMM_ERROR)
    return mode


def check_id(number):
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


def make_directory_at(name, dir_fd, uid, gid, mode):
    """mkdir *name* in *dir_fd* owned *uid*:*gid* with *mode*; its
    descriptor.  Made 0700 first, so nobody else can enter it before it has
    its owner."""
    os.mkdir(name, 0o700, dir_fd=dir_fd)
    fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file_at(name, dir_fd, data, uid, gid, mode):
    """Write the new file *name* in *dir_fd* (never an existing file, never
    through a symbolic link), owned *uid*:*gid* with *mode*, its data on
    disk (fsync) before it is renamed into place or its directory is; the
    one way vmm writes a file.  A file left half-written is removed."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                 | getattr(os, 'O_CLOEXEC', 0), 0o600, dir_fd=dir_fd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if data:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    os.close(fd)


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

    def new_domain_paths(self, gid):
        """The possible directories ``base/<hex digit>/<gid>`` of a new
        domain, in random order."""
        import random
        digits = list('0123456789abcdef')
        random.SystemRandom().shuffle(digits)
        return [os.path.join(self.base_directory, digit, str(check_id(gid)))
                for digit in digits]

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
        fd = os.open(self.real_base, DIR_FLAGS & ~os.O_NOFOLLOW)
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
                    new = os.open(part, DIR_FLAGS, dir_fd=fd)
                except OSError as err:
                    self._refuse(path, err.strerror)
                os.close(fd)
                fd = new
        except BaseException:
            close_fd(fd)
            raise
        return fd

    def open_below(self, path):
        """A descriptor of the existing directory *path* below the base
        (never the base itself), reached without following a symbolic
        link; None when it does not exist."""
        parts = self._parts(path)
        if not parts:
            self._refuse(path, _('it is the base directory itself'))
        return self._open_parts(path, parts)

    # -- creation ---------------------------------------------------------

    def _make(self, path, uid, gid, mode, parents):
        require_root()
        check_mode(mode)
        check_id(uid)
        check_id(gid)
        parts = self._parts(path)
        if not parts:
            self._refuse(path, _('it is the base directory itself'))
        created = []          # (dir_fd, name), newest last, for rollback
        fds = []
        try:
            fd = os.open(self.real_base, DIR_FLAGS & ~os.O_NOFOLLOW)
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
                new = os.open(part, DIR_FLAGS, dir_fd=fd)
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

    # -- moving and removal -----------------------------------------------

    def open_parent(self, path, create=False):
        """(descriptor of the parent directory of *path*, last component).

        The parent is None when it does not exist and *create* is false;
        with *create*, missing directories between the base and *path* are
        made root:root with :data:`HASH_DIRECTORY_MODE`.  The base itself
        is refused as *path*.
        """
        parts = self._parts(path)
        if not parts:
            self._refuse(path, _('it is the base directory itself'))
        parents, name = parts[:-1], parts[-1]
        fd = self._open_parts(path, parents)
        if fd is None and create:
            parent = os.path.join(self.base_directory, *parents)
            self._make(parent, 0, 0, HASH_DIRECTORY_MODE, parents=True)
            fd = self._open_parts(path, parents)
        return fd, name

    def check_directory(self, path):
        """Refuse (67) to remove *path* later unless it is a real directory
        inside the base (not the base, not reached through a symbolic
        link); False when there is nothing to remove."""
        pfd, name = self.open_parent(path)
        if pfd is None:
            return False
        try:
            st = lstat_at(name, pfd)
            if st is None:
                return False
            if stat.S_ISLNK(st.st_mode):
                self._refuse(path, _('%s is a symbolic link') % path)
            if not stat.S_ISDIR(st.st_mode):
                self._refuse(path, _('%s is not a directory') % path)
        finally:
            close_fd(pfd)
        return True

    def move(self, src_fd, src_name, path, parents=False, synced=None):
        """Rename *src_name* of the directory *src_fd* to *path*, atomically,
        and make the rename durable (fsync of both directories; with a set
        *synced*, the caller fsyncs once for many moves: the parent's path
        is added to it instead).  With *parents*, missing directories above
        *path* are created first.  False when *path* exists already
        (nothing is moved)."""
        pfd, name = self.open_parent(path, create=parents)
        if pfd is None:
            raise VMMError(_('The directory %s does not exist.')
                           % os.path.dirname(os.path.normpath(path)),
                           NO_SUCH_DIRECTORY)
        try:
            if lstat_at(name, pfd) is not None:
                return False
            os.rename(src_name, name, src_dir_fd=src_fd, dst_dir_fd=pfd)
            if synced is None:
                os.fsync(pfd)
                os.fsync(src_fd)
            else:
                synced.add(os.path.dirname(os.path.normpath(path)))
        except OSError as err:
            raise VMMError(_('Cannot move %(source)s to %(path)s: %(reason)s')
                           % {'source': src_name, 'path': path,
                              'reason': err.strerror}, VMM_ERROR) from None
        finally:
            close_fd(pfd)
        return True

    def fsync_directory(self, path):
        """Make the entries of the directory *path* durable."""
        fd = self._open_parts(path, self._parts(path))
        if fd is not None:
            try:
                os.fsync(fd)
            finally:
                close_fd(fd)

    def move_out(self, path, dst_fd, dst_name):
        """Rename the directory *path* to *dst_name* in *dst_fd* (a
        directory inside the base), durably; False when *path* is gone."""
        if not self.check_directory(path):
            return False
        pfd, name = self.open_parent(path)
        try:
            os.rename(name, dst_name, src_dir_fd=pfd, dst_dir_fd=dst_fd)
            os.fsync(pfd)
            os.fsync(dst_fd)
        except FileNotFoundError:
            return False
        except OSError as err:
            raise VMMError(_('Cannot remove the directory %(path)s: '
                             '%(reason)s') % {'path': path,
                                              'reason': err.strerror},
                           VMM_ERROR) from None
        finally:
            close_fd(pfd)
        return True


def remove_tree_at(dir_fd, name):
    """Remove *name* in *dir_fd* with everything in it; a tree that is gone
    already is fine.  The descriptor-based rmtree never follows a symbolic
    link, and a second call finishes what a killed one began."""
    import shutil
    try:
        shutil.rmtree(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise VMMError(_('Cannot remove the directory %(path)s '
                         'completely: %(reason)s') % {
                             'path': name, 'reason': err.strerror or str(err)},
                       VMM_ERROR) from None
