"""The run's session: configuration, the one connection and its
transaction, the audit record, and the directory work that must follow
that transaction (:mod:`vmm.staging`).  The subcommands' work lives in
the sibling modules, one per kind of thing."""

import contextlib
import os

from vmm import errors
from vmm.config import Config
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.models.account import Account
from vmm.models.domain import Domain, name_kind
from vmm.models.values import DomainName, EmailAddress


class Session:
    """Configuration, connection, transaction, hooks and the lookups every
    kind of work needs."""

    def __init__(self, config_path=None, read_write=True, command_line=''):
        self.config = Config.load(config_path)
        self.read_write = read_write
        self.command_line = command_line
        self.warnings = []
        self._conn = None
        self._cur = None
        self._changes = []
        self._objects = set()
        self._on_rollback = []
        self._after_commit = []
        self._jail = None
        self._staging = None
        self._postconf = {}
        self._mid = None
        # In a batch nothing may be asked for: there is no one to answer.
        self.batch = False

    # -- connection and transaction -------------------------------------

    @property
    def conn(self):
        if self._conn is None:
            self._connect()
        return self._conn

    def _connect(self, check_schema=True):
        from vmm import database, schema
        conn = database.connect(self.config, self.read_write)
        cur = conn.cursor()
        if check_schema:
            version, removals_owed, standby = schema.current_state(cur)
            if version != schema.SCHEMA_VERSION:
                conn.close()
                raise errors.DatabaseError(
                    _('The database has no current vmm schema; run '
                      '`vmm dbupgrade`'))
            # What a killed run left is decided by what the primary has
            # committed; a standby may not have seen that yet.
            if not standby and os.geteuid() == 0:
                try:
                    self.warnings.extend(
                        self.staging.recover(conn, removals_owed))
                except (VMMError, OSError) as err:
                    # the run's own work may not need what failed here
                    self.warnings.append(str(err))
        self._conn, self._cur = conn, cur

    @property
    def cur(self):
        if self._conn is None:
            self._connect()
        return self._cur

    def log(self, change, *objects):
        """Record what this run changed, for the audit log."""
        self._changes.append(change)
        self._objects.update(str(o) for o in objects)

    def end_command(self, command_line):
        """Close one subcommand of a batch: its audit record, now."""
        self.command_line = command_line
        if self._changes:
            self._write_log()

    @contextlib.contextmanager
    def savepoint(self):
        """Undo the database and directory work of the block if it fails,
        keeping what came before (``batch --continue-on-error``)."""
        cur = self.cur
        marks = len(self._on_rollback), len(self._after_commit)
        staged = self.staging.mark()
        cur.execute('SAVEPOINT vmm_command')
        try:
            yield
        except BaseException:
            cur.execute('ROLLBACK TO SAVEPOINT vmm_command')
            undo = self._on_rollback[marks[0]:]
            del self._on_rollback[marks[0]:]
            del self._after_commit[marks[1]:]
            self._changes.clear()
            self._objects.clear()
            self.staging.undo(staged)
            for action in reversed(undo):
                action()
            raise
        cur.execute('RELEASE SAVEPOINT vmm_command')

    def commit(self):
        """Commit, then do the directory work that follows (signals wait
        until it is done: the change has been made, the run succeeds)."""
        from vmm.staging import step
        if self._conn is None:
            return
        if self._changes:
            self._write_log()
        with _signals_deferred():
            if self._staging:
                self._staging.prepare_commit()
            step()
            try:
                self._conn.commit()
            except BaseException:
                if self._conn.closed and self._staging:
                    self._staging.abandon()
                raise
            step()
            self._on_rollback.clear()
            if self._staging:
                self.warnings.extend(self._staging.finish(self._conn))
            actions, self._after_commit = self._after_commit, []
            for action in actions:
                action()

    def rollback(self):
        if self._conn is not None:
            try:
                self._conn.rollback()
            except Exception:  # the connection may be gone; nothing to undo
                pass
        if self._staging:
            self._staging.rollback()
        actions, self._on_rollback = self._on_rollback, []
        for action in reversed(actions):
            action()
        self._after_commit.clear()
        self._changes.clear()

    def close(self):
        if self._staging:
            self._staging.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def on_rollback(self, action):
        """Run *action* if this run's transaction (or the batch line's
        savepoint) is rolled back."""
        self._on_rollback.append(action)

    def after_commit(self, action):
        """Run *action* once this run's transaction has committed."""
        self._after_commit.append(action)

    def _write_log(self):
        import pwd
        try:
            os_user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            os_user = str(os.getuid())
        self.cur.execute(
            'INSERT INTO vmm_log (os_user, sudo_user, command, changes, '
            'objects) VALUES (%s, %s, %s, %s, %s)',
            (os_user, os.environ.get('SUDO_USER'), self.command_line,
             '\n'.join(self._changes), sorted(self._objects)))
        self._changes.clear()
        self._objects.clear()

    # -- directories -------------------------------------------------------

    @property
    def jail(self):
        if self._jail is None:
            from vmm.jail import DirectoryJail
            self._jail = DirectoryJail(self.config['misc.base_directory'])
        return self._jail

    @property
    def staging(self):
        if self._staging is None:
            from vmm.staging import Staging
            self._staging = Staging(self.jail)
        return self._staging

    def require_root(self):
        from vmm.jail import require_root
        require_root()

    # -- helpers -----------------------------------------------------------

    def _domain(self, name, lock=False):
        return Domain.get(self.cur, DomainName(name), lock)

    def _primary_address(self, text, lock=True):
        """The address and its domain, refusing alias-domain addresses."""
        address = EmailAddress(text)
        domain = Domain.lookup(self.cur, address.domain, lock)
        if domain is not None:
            return address, domain
        kind = name_kind(self.cur, address.domain)
        if kind and kind[0] == 'alias':
            primary = Domain.by_gid(self.cur, kind[1])
            raise VMMError(_("'%(domain)s' is an alias domain; use the "
                             "address under its primary domain: "
                             "%(local)s@%(primary)s")
                           % {'domain': address.domain.unicode,
                              'local': address.localpart,
                              'primary': primary.unicode},
                           errors.DOMAIN_ALIAS_EXISTS)
        return address, Domain.get(self.cur, address.domain, lock)

    def _owner(self, text):
        """The address and the primary domain it belongs to (any name)."""
        address = EmailAddress(text)
        return address, Domain.owning(self.cur, address.domain)

    def account(self, text):
        address, domain = self._owner(text)
        return Account.get(self.cur, domain, address.localpart)

    def hash_password(self, password, address, scheme=None):
        from vmm import password as pw
        cfg = self.config
        return pw.hash_password(
            password, scheme or cfg['misc.password_scheme'], str(address),
            blowfish_rounds=cfg['misc.crypt_blowfish_rounds'],
            sha256_rounds=cfg['misc.crypt_sha256_rounds'],
            sha512_rounds=cfg['misc.crypt_sha512_rounds'])

    def _warn_others_write(self, option):
        """A mode that lets others write is an explicit choice
        (misc.allow_others_write), said each time it is used."""
        mode = self.config[option]
        if mode & 0o002:
            self.warnings.append(_('%(option)s = %(mode)04o lets others '
                                   'write in the directories '
                                   '(misc.allow_others_write is on)')
                                 % {'option': option, 'mode': mode})

    def random_password(self):
        from vmm.password import random_password
        return random_password(self.config['account.password_length'])

    def postconf_int(self, parameter, default):
        """An integer parameter of the local Postfix, asked once per run;
        *default* without a Postfix."""
        if parameter not in self._postconf:
            self._postconf[parameter] = postconf_int(
                self.config['bin.postconf'], parameter, default)
        return self._postconf[parameter]

    def db_upgrade(self):
        """Create or upgrade the schema; (version before, version now)."""
        from vmm import schema
        self._connect(check_schema=False)
        before, after = schema.upgrade(self._cur)
        if before is None:
            self.log(_('database schema version %d created') % after)
        elif before != after:
            self.log(_('database schema upgraded from version %(before)d '
                       'to %(after)d') % {'before': before, 'after': after})
        return before, after


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT, SIGTERM and SIGHUP back; one that came meanwhile is
    dropped, as what it would have stopped is done."""
    import signal
    signals = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        while signal.sigtimedwait(signals, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, old)




def postconf_int(postconf, parameter, default):
    """An integer parameter of the local Postfix; *default* without one."""
    import subprocess
    try:
        out = subprocess.run([postconf, '-h', parameter], check=True,
                             capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL).stdout.strip()
        return int(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return default
