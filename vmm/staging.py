"""Directory work that follows the database transaction, so that a run
killed at any instant leaves nothing half-done once the next run starts.

New directories (a domain's, an account's home with its mailbox) are built
before the commit in the run's own staging directory,
``misc.base_directory/.vmm-staging/run-…``, and renamed into place after
the commit.  A rename is atomic: a directory is either complete where it
belongs or not there at all.  A directory to remove is recorded in the
table ``directory_removal`` by the transaction that deletes its owner;
after the commit it is renamed into the staging directory and removed
there, and its row goes.

A run keeps its staging directory locked (flock) for as long as it lives.
Every vmm run first recovers what dead runs left behind, and decides by
the database alone: a staged domain directory or home is put into place
when its domain or account exists and has no directory yet, and is removed
otherwise; a recorded removal is finished.  Nothing that a domain or an
account owns is ever removed.
"""

import array
import contextlib
import fcntl
import os

from vmm.errors import NO_SUCH_DIRECTORY, VMM_ERROR, VMMError
from vmm.i18n import _
from vmm.jail import DIR_FLAGS, close_fd, lstat_at, remove_tree_at

#: The staging area, directly below misc.base_directory.
STAGING = '.vmm-staging'

_RUN_PREFIX = 'run-'

# The interrupted-run tests stop a run at its Nth step with the real
# SIGKILL: every step of the directory work and each commit is one.
_CRASH_AT = int(os.environ.get('VMM_TEST_CRASH_AT') or 0)
_steps = 0


def step():
    """One step of work that a kill may interrupt (see _CRASH_AT)."""
    global _steps
    if _CRASH_AT:
        _steps += 1
        if _steps == _CRASH_AT:
            import signal
            os.kill(os.getpid(), signal.SIGKILL)


_OWNED_SQL = """
    SELECT EXISTS (SELECT 1 FROM domain_data
                    WHERE domaindir = %(path)s
                       OR starts_with(domaindir, %(path)s || '/'))
        OR EXISTS (SELECT 1 FROM users u JOIN domain_data d USING (gid)
                    WHERE u.uid = %(uid)s AND d.domaindir = %(parent)s)
"""


def owned(cur, path):
    """Whether a domain or an account has *path*, or a directory below
    it, as its own: such a path is never removed."""
    parent, name = os.path.split(path)
    cur.execute(_OWNED_SQL, {'path': path, 'parent': parent,
                             'uid': int(name) if name.isdigit() else None})
    return cur.fetchone()[0]


class Staging:
    """The staged directory work of one run (see the module's text)."""

    def __init__(self, jail):
        self.jail = jail
        self._root_fd = None
        self._run_fd = None
        self._run_name = None
        self._exclusive_held = False
        # (path relative to the run directory, target path), oldest first;
        # a home inside a staged domain directory is that domain's entry
        # alone, its UID the next of the entry's _homes: an import of a
        # large domain keeps a few bytes per home
        self._builds = []
        self._domains = {}       # target of a staged domain -> its entry
        self._homes = {}         # entry of a staged domain -> array of UIDs
        self._removals = []      # (token, path) of this transaction

    # -- the staging area and this run's directory -----------------------

    @property
    def root(self):
        return os.path.join(self.jail.base_directory, STAGING)

    def _lock_root(self, flags):
        """The staging area's descriptor, made if missing and locked with
        *flags*; BlockingIOError with LOCK_NB when another run holds it.
        An idle run removes the empty area (under LOCK_EX): a descriptor
        of a removed one is opened anew."""
        while True:
            if self._root_fd is None:
                base_fd = os.open(self.jail.real_base,
                                  DIR_FLAGS & ~os.O_NOFOLLOW)
                try:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(STAGING, 0o700, dir_fd=base_fd)
                    self._root_fd = os.open(STAGING, DIR_FLAGS,
                                            dir_fd=base_fd)
                except OSError as err:
                    raise VMMError(_('Cannot use %(path)s: %(reason)s')
                                   % {'path': self.root,
                                      'reason': err.strerror},
                                   VMM_ERROR) from None
                finally:
                    os.close(base_fd)
            fcntl.flock(self._root_fd, flags)
            if os.fstat(self._root_fd).st_nlink:
                return self._root_fd
            fcntl.flock(self._root_fd, fcntl.LOCK_UN)
            close_fd(self._root_fd)
            self._root_fd = None

    @contextlib.contextmanager
    def _exclusive(self, wait=True):
        """Hold the staging area for recovery or placing; yields False
        (without waiting) when another run holds it and *wait* is false."""
        try:
            fd = self._lock_root(fcntl.LOCK_EX
                                 | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        self._exclusive_held = True
        try:
            yield True
        finally:
            self._exclusive_held = False
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _run(self):
        """This run's staging directory, made and locked on first use."""
        if self._run_fd is None:
            import secrets
            # Shared: no recovery may look at the new directory before
            # it is locked.
            root = self._root_fd if self._exclusive_held else \
                self._lock_root(fcntl.LOCK_SH)
            try:
                name = '%s%d-%s' % (_RUN_PREFIX, os.getpid(),
                                    secrets.token_hex(6))
                os.mkdir(name, 0o700, dir_fd=root)
                fd = os.open(name, DIR_FLAGS, dir_fd=root)
                fcntl.flock(fd, fcntl.LOCK_EX)
            finally:
                if not self._exclusive_held:
                    fcntl.flock(root, fcntl.LOCK_UN)
            self._run_fd, self._run_name = fd, name
            step()
        return self._run_fd

    def _staged(self, relative):
        return os.path.join(self.root, self._run_name, relative)

    def close(self):
        """Let go of this run's directory: removed when empty, else left
        (unlocked) for the next run's recovery; so is the staging area
        when no other run uses it."""
        if self._run_fd is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._run_name, dir_fd=self._root_fd)
            close_fd(self._run_fd)
            self._run_fd = self._run_name = None
        if self._root_fd is not None:
            try:
                fcntl.flock(self._root_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(self.jail.real_base, STAGING))
            close_fd(self._root_fd)
            self._root_fd = None
        self._builds.clear()
        self._domains.clear()
        self._homes.clear()
        self._removals.clear()

    # -- before the commit -------------------------------------------------

    def _check_target(self, path):
        """*path* is free, inside the base and on the staging area's file
        system (a rename cannot cross file systems)."""
        pfd, name = self.jail.open_parent(path)
        try:
            if pfd is not None and lstat_at(name, pfd) is not None:
                raise VMMError(_('The directory %s already exists.') % path,
                               VMM_ERROR)
        finally:
            close_fd(pfd)
        existing = os.path.dirname(path)
        while not os.path.isdir(existing):
            existing = os.path.dirname(existing)
        if os.stat(existing).st_dev != os.fstat(self._run()).st_dev:
            raise VMMError(_('%(path)s is on another file system than '
                             '%(staging)s, where vmm prepares new '
                             'directories') % {'path': path,
                                               'staging': self.root},
                           VMM_ERROR)

    def build_domain(self, path, gid, mode):
        """Prepare the domain directory *path* (root:*gid*, *mode*); its
        new homes are built inside it."""
        self._check_target(path)
        entry = 'd%d' % gid
        self.jail.make_home(self._staged(entry), 0, gid, mode)
        self._builds.append((entry, path))
        self._domains[path] = entry
        self._homes[entry] = array.array('Q')
        step()

    def build_home(self, home, uid, gid, mode, fill):
        """Prepare the home *home* (*uid*:*gid*, *mode*); ``fill(path)``
        makes the mailbox in the prepared directory *path*."""
        domain_directory = os.path.dirname(home)
        entry = self._domains.get(domain_directory)
        if entry is not None:
            relative = os.path.join(entry, str(uid))
        else:
            if not os.path.isdir(domain_directory):
                raise VMMError(_("The domain directory '%s' does not exist")
                               % domain_directory, NO_SUCH_DIRECTORY)
            self._check_target(home)
            relative = 'h%d-%d' % (uid, gid)
        staged = self._staged(relative)
        self.jail.make_home(staged, uid, gid, mode)
        try:
            fill(staged)
        except BaseException:
            remove_tree_at(self._run_fd, relative)
            raise
        if entry is not None:
            self._builds.append(entry)
            self._homes[entry].append(uid)
        else:
            self._builds.append((relative, home))
        step()

    def remove(self, cur, path):
        """Record *path* for removal once this transaction has committed;
        refused (67) now if it could not be removed then."""
        import secrets
        if not self.jail.check_directory(path):
            return
        token = secrets.token_hex(8)
        cur.execute('INSERT INTO directory_removal (token, path) '
                    'VALUES (%s, %s)', (token, path))
        self._removals.append((token, path))

    def mark(self):
        return len(self._builds), len(self._removals)

    def undo(self, mark):
        """Forget the work since *mark* (a savepoint was rolled back)."""
        builds, removals = mark
        for build in reversed(self._builds[builds:]):
            if isinstance(build, str):
                uid = self._homes[build].pop()
                remove_tree_at(self._run_fd, os.path.join(build, str(uid)))
                continue
            relative, target = build
            remove_tree_at(self._run_fd, relative)
            if self._domains.pop(target, None) is not None:
                del self._homes[relative]
        del self._builds[builds:]
        del self._removals[removals:]

    def rollback(self):
        """The transaction was rolled back: remove everything staged."""
        if self._run_fd is not None:
            for name in os.listdir(self._run_fd):
                remove_tree_at(self._run_fd, name)
        self.close()

    # -- after the commit --------------------------------------------------

    def prepare_commit(self):
        """Before the commit: the staged directories are on disk for good,
        so that a committed account never lacks its mailbox, even after a
        power loss (a journaling file system writes the directories made
        before in the same commit of its journal)."""
        if self._builds:
            os.fsync(self._run_fd)

    def finish(self, conn):
        """Put the staged directories into place and do the recorded
        removals; returns warnings (what failed is left for the next run,
        which tries again)."""
        warnings = []
        if not self._builds and not self._removals:
            self.close()
            return warnings
        with self._exclusive():
            synced = set()
            for build in self._builds:
                if not isinstance(build, str):
                    self._place(*build, warnings, synced)
            try:
                for directory in sorted(synced):
                    self.jail.fsync_directory(directory)
                if synced:
                    os.fsync(self._run_fd)
            except (OSError, VMMError) as err:
                warnings.append(str(err))
            if self._removals:
                cur = conn.cursor()
                done = [token for token, path in self._removals
                        if self._remove_now(cur, token, path, warnings)]
                self._forget_removals(cur, done)
                conn.commit()
        self.close()
        return warnings

    def _place(self, relative, target, warnings, synced):
        try:
            if not self.jail.move(self._run_fd, relative, target,
                                  parents=True, synced=synced):
                warnings.append(_('%s existed already and was left as it '
                                  'is') % target)
                remove_tree_at(self._run_fd, relative)
        except VMMError as err:
            warnings.append(_('%s; the next vmm run tries again') % err.msg)
        step()

    def _remove_now(self, cur, token, path, warnings):
        """Remove *path* unless something owns it now; True when done."""
        if owned(cur, path):
            warnings.append(_('%s belongs to a domain or an account and was '
                              'not removed') % path)
            return True
        trash = 'r' + token
        try:
            self.jail.move_out(path, self._run(), trash)
            step()
            remove_tree_at(self._run_fd, trash)
        except VMMError as err:
            warnings.append(_('%s; the next vmm run tries again') % err.msg)
            return False
        step()
        self._remove_empty_parents(cur, path)
        return True

    def _remove_empty_parents(self, cur, path):
        """The hex-digit directory a removed domain directory leaves empty
        goes too (placing, which makes it again, waits for the staging
        lock held here)."""
        base = os.path.normpath(self.jail.base_directory)
        parent = os.path.dirname(os.path.normpath(path))
        while parent != base and parent.startswith(base + '/') \
                and not owned(cur, parent):
            pfd, name = self.jail.open_parent(parent)
            try:
                if pfd is None:
                    return
                os.rmdir(name, dir_fd=pfd)
            except OSError:     # not empty
                return
            finally:
                close_fd(pfd)
            parent = os.path.dirname(parent)

    @staticmethod
    def _forget_removals(cur, tokens):
        if tokens:
            cur.execute('DELETE FROM directory_removal WHERE token = ANY(%s)',
                        (tokens,))
            step()

    def abandon(self):
        """Whether the commit happened is unknown (the connection broke):
        leave the staged work to the next run, which asks the database."""
        self.close()

    # -- at the start of a run ----------------------------------------------

    def recover(self, conn, removals_owed):
        """Finish or undo what runs that died left behind; returns
        warnings.  Cheap when there is nothing: one directory listing."""
        try:
            runs = [name for name in os.listdir(self.root)
                    if name.startswith(_RUN_PREFIX)]
        except (FileNotFoundError, NotADirectoryError):
            if not removals_owed:
                return []
            runs = []
        # (an empty staging area, which a run stopped at the wrong
        # moment may leave, goes when this run closes it)
        warnings = []
        with self._exclusive(wait=False) as mine:
            if not mine:        # another run is at it right now
                return []
            cur = conn.cursor()
            for name in runs:
                self._recover_run(cur, name, warnings)
            if removals_owed:
                cur.execute('SELECT token, path FROM directory_removal '
                            'ORDER BY queued')
                done = [token for token, path in cur.fetchall()
                        if self._remove_now(cur, token, path, warnings)]
                self._forget_removals(cur, done)
            conn.commit()
        self.close()
        return warnings

    def _recover_run(self, cur, name, warnings):
        root = self._root_fd
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=root)
        except OSError:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return          # its run is alive
            entries = os.listdir(fd)
            domains, homes = _wanted(cur, entries)
            for entry in entries:
                target = domains.get(entry) or homes.get(entry)
                if target is not None and not os.path.lexists(target):
                    try:
                        self.jail.move(fd, entry, target, parents=True)
                    except VMMError as err:
                        warnings.append(err.msg)
                        continue
                else:
                    remove_tree_at(fd, entry)
                step()
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=root)
        finally:
            close_fd(fd)


def _wanted(cur, entries):
    """Which staged entries of a dead run their domain or account still
    wants: {entry: target path}, for domains and for homes."""
    gids, uids = {}, {}
    for entry in entries:
        if entry[:1] == 'd' and entry[1:].isdigit():
            gids[int(entry[1:])] = entry
        elif entry[:1] == 'h':
            uid, _sep, gid = entry[1:].partition('-')
            if uid.isdigit() and gid.isdigit():
                uids[int(uid)] = (int(gid), entry)
    domains, homes = {}, {}
    if gids:
        cur.execute('SELECT gid, domaindir FROM domain_data '
                    'WHERE gid = ANY(%s)', (list(gids),))
        domains = {gids[gid]: directory for gid, directory in cur.fetchall()}
    if uids:
        cur.execute('SELECT u.uid, u.gid, d.domaindir FROM users u '
                    'JOIN domain_data d USING (gid) WHERE u.uid = ANY(%s)',
                    (list(uids),))
        for uid, gid, directory in cur.fetchall():
            if uids[uid][0] == gid and os.path.isdir(directory):
                homes[uids[uid][1]] = os.path.join(directory, str(uid))
    return domains, homes


def dead_runs(base_directory):
    """How many runs that died left their staging directory behind (for
    ``vmm check``; it needs root to look)."""
    root = os.path.join(base_directory, STAGING)
    try:
        names = [n for n in os.listdir(root) if n.startswith(_RUN_PREFIX)]
    except OSError:
        return 0
    dead = 0
    for name in names:
        try:
            fd = os.open(os.path.join(root, name), DIR_FLAGS)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            dead += 1
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return dead
