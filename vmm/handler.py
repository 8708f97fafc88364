"""The handler: one per vmm run.

It owns the configuration, the one database connection and its
transaction, and the directory work that must follow that transaction
(:mod:`vmm.staging`: new directories appear only once the transaction has
committed, removed ones go only then, and whatever a killed run left is
finished or undone when the next run connects).  Every method is one
subcommand's work; none prints — results are returned as plain data and
warnings collected in ``warnings``.
"""

import contextlib
import os

from vmm import errors
from vmm.config import Config
from vmm.errors import VMMError
from vmm.i18n import _, ngettext
from vmm.models.account import Account, refuse_existing
from vmm.models.alias import Alias, CatchallAlias, Relocated, new_destinations
from vmm.models.domain import AliasDomain, Domain, RelayDomain, name_kind
from vmm.models.values import (
    MAX_NAME_LENGTH,
    DomainName,
    EmailAddress,
    QuotaLimit,
    ServiceSet,
    Transport,
    check_text,
    display_domain,
)


class Handler:
    """Configuration, connection, transaction and the subcommands' work."""

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

    # -- domains -----------------------------------------------------------

    def domain_add(self, name, transport=None, note=None, postmaster=None):
        """Create a domain and its directory; *postmaster* is the password
        for postmaster@ when domain.auto_postmaster is on."""
        cfg = self.config
        self.require_root()
        name = DomainName(name)
        note = check_text(note, _('note'), multiline=True)
        transport = Transport(transport) if transport is not None else \
            cfg['domain.transport']
        domain = Domain.create(
            self.cur, name, self._new_domain_directory, transport,
            QuotaLimit(cfg['domain.quota_bytes'],
                       cfg['domain.quota_messages']),
            ServiceSet(cfg['domain.smtp'], cfg['domain.pop3'],
                       cfg['domain.imap'], cfg['domain.sieve']),
            (cfg['domain.max_accounts'], cfg['domain.max_aliases'],
             cfg['domain.max_alias_domains']), note)
        self.log(_('domain %s added') % name, name)
        self._warn_others_write('domain.directory_mode')
        self.staging.build_domain(domain.directory, domain.gid,
                                  cfg['domain.directory_mode'])
        for localpart, destination in cfg['domain.default_aliases']:
            self.alias_add('%s@%s' % (localpart, name), [destination])
        if cfg['domain.auto_postmaster'] and postmaster is not None:
            self.user_add('postmaster@%s' % name, postmaster)
        return domain

    def _new_domain_directory(self, gid):
        """``base/<random hex digit>/<gid>``, where it nests with no other
        domain's directory (an imported one may lie anywhere)."""
        from vmm.models.domain import directory_conflict
        for path in self.jail.new_domain_paths(gid):
            if directory_conflict(self.cur, path) is None:
                return path
        raise VMMError(_('Every possible directory for the new domain lies '
                         'inside or above the directory of another domain'),
                       errors.VMM_ERROR)

    def domain_delete(self, name, delete_directory=None, force=None):
        cfg = self.config
        domain = self._domain(name, lock=True)
        force = cfg['domain.force_deletion'] if force is None else force
        if delete_directory is None:
            delete_directory = cfg['domain.delete_directory']
        if delete_directory:
            self.require_root()
        counts = domain.counts()
        if not force and (counts['accounts'] or counts['aliases'] or
                          counts['relocated'] or counts['catchall']):
            parts = [
                ngettext('%d account', '%d accounts', counts['accounts'])
                % counts['accounts'],
                ngettext('%d alias', '%d aliases', counts['aliases'])
                % counts['aliases'],
                ngettext('%d relocated user', '%d relocated users',
                         counts['relocated']) % counts['relocated'],
                ngettext('%d catch-all destination',
                         '%d catch-all destinations', counts['catchall'])
                % counts['catchall']]
            raise VMMError(
                _("The domain '%(domain)s' still has %(what)s; use --force "
                  "to delete them too") % {'domain': domain.unicode,
                                           'what': ', '.join(parts)},
                errors.ALIAS_AND_ACCOUNT_EXIST)
        domain.delete()
        self.log(_('domain %s deleted') % domain.name, domain.name)
        if delete_directory:
            self.staging.remove(self.cur, domain.directory)
        return domain

    def domain_info(self, name):
        domain = self._domain(name)
        return domain, domain.counts()

    def domain_quota(self, name, storage, messages=None, force=False):
        quota = QuotaLimit(QuotaLimit.parse_bytes(storage),
                           QuotaLimit.parse_messages(messages or '0'))
        domain = self._domain(name, lock=True)
        reset = domain.set_quota(quota, force)
        self.log(_('domain %(domain)s quota set to bytes=%(bytes)s, '
                   'messages=%(messages)d')
                 % {'domain': domain.name, 'bytes': quota.bytes,
                    'messages': quota.messages}, domain.name)
        return reset

    def domain_services(self, name, enable=(), disable=(), force=False):
        ServiceSet.check_names(list(enable) + list(disable))
        domain = self._domain(name, lock=True)
        services = domain.services.changed(enable, disable)
        reset = domain.set_services(services, force)
        self.log(_('domain %(domain)s services: %(services)s')
                 % {'domain': domain.name,
                    'services': _format_services(services)}, domain.name)
        return reset

    def domain_transport(self, name, transport, force=False):
        transport = Transport(transport)
        domain = self._domain(name, lock=True)
        reset = domain.set_transport(transport, force)
        self.log(_('domain %(domain)s transport set to %(transport)s')
                 % {'domain': domain.name, 'transport': transport},
                 domain.name)
        return reset

    def domain_note(self, name, note):
        note = check_text(note, _('note'), multiline=True)
        domain = self._domain(name, lock=True)
        domain.set_note(note)
        self.log(_('domain %s note changed') % domain.name, domain.name)

    def domain_limits(self, name, **limits):
        domain = self._domain(name, lock=True)
        domain.set_limits(**{'max_' + key: value
                             for key, value in limits.items()
                             if value is not None})
        self.log(_('domain %(domain)s limits: %(limits)s') % {
            'domain': domain.name,
            'limits': ', '.join('%s=%s' % item for item in sorted(
                limits.items()) if item[1] is not None)}, domain.name)
        return domain

    def domain_details(self, domain, detail):
        """Rows for domaininfo -d: accounts, aliasdomains, aliases,
        catchall, relocated."""
        from vmm.models import listing
        kinds = {'accounts': 'account', 'aliases': 'alias',
                 'relocated': 'relocated'}
        if detail in kinds:
            return ('%s@%s' % (row[1], row[2]) for row in listing.addresses(
                self.conn, '%%@%s' % domain.name, (kinds[detail],)))
        if detail == 'aliasdomains':
            return domain.alias_domain_names()
        return CatchallAlias(self.cur, domain).destinations()

    # -- alias domains ------------------------------------------------------

    def aliasdomain_add(self, name, destination):
        name = DomainName(name)
        destination = DomainName(destination)
        domain = AliasDomain.target(self.cur, destination)
        AliasDomain.create(self.cur, name, domain)
        self.check_alias_loops(self._loop_starts_for_domain(domain, [name]))
        self.log(_('alias domain %(alias)s of %(domain)s added')
                 % {'alias': name, 'domain': domain.name}, name, domain.name)

    def aliasdomain_delete(self, name):
        alias = AliasDomain.get(self.cur, DomainName(name))
        alias.delete(self.cur)
        self.log(_('alias domain %s deleted') % alias.name, alias.name)

    def aliasdomain_info(self, name):
        return AliasDomain.get(self.cur, DomainName(name))

    def aliasdomain_switch(self, name, destination):
        alias = AliasDomain.get(self.cur, DomainName(name))
        domain = AliasDomain.target(self.cur, DomainName(destination))
        if domain.gid == alias.domain.gid:
            self.warnings.append(
                _("The alias domain '%(alias)s' already belongs to "
                  "'%(domain)s'") % {'alias': display_domain(alias.name),
                                     'domain': domain.unicode})
            return
        alias.switch(self.cur, domain)
        self.check_alias_loops(
            self._loop_starts_for_domain(domain, [alias.name]))
        self.log(_('alias domain %(alias)s moved to %(domain)s')
                 % {'alias': alias.name, 'domain': domain.name},
                 alias.name, domain.name)

    # -- relay domains -------------------------------------------------------

    def relaydomain_add(self, name, transport=None, recipients=()):
        name = DomainName(name)
        transport = Transport(transport) if transport is not None else \
            self.config['misc.relay_transport']
        localparts = []
        for text in recipients:
            address = EmailAddress(text)
            if address.domain != name:
                raise VMMError(_("The recipient '%(address)s' is not in the "
                                 "relay domain '%(domain)s'")
                               % {'address': text,
                                  'domain': display_domain(name)},
                               errors.INVALID_ADDRESS)
            localparts.append(address.localpart)
        RelayDomain.create(self.cur, name, transport, localparts)
        self.log(_('relay domain %s added') % name, name)

    def relaydomain_delete(self, name):
        relay = RelayDomain.get(self.cur, DomainName(name))
        relay.delete()
        self.log(_('relay domain %s deleted') % relay.name, relay.name)

    def relaydomain_info(self, name):
        return RelayDomain.get(self.cur, DomainName(name))

    # -- accounts -----------------------------------------------------------

    def user_add(self, text, password, note=None, name=None):
        """Create the account and its mailbox; *password* is plain text."""
        self.require_root()
        note = check_text(note, _('note'), multiline=True)
        name = check_text(name, _('name'), max_length=MAX_NAME_LENGTH)
        address, domain = self._primary_address(text)
        domain.check_limit('accounts')
        password_hash = self.hash_password(password, address)
        account = Account.create(self.cur, domain, address.localpart,
                                 password_hash, self._maillocation_id(),
                                 name=name, note=note)
        self.log(_('account %s added') % address, address)
        self._warn_others_write('account.directory_mode')
        self.create_mailbox(account)
        return account

    def _maillocation_id(self):
        """The mail location of new accounts (vmm.cfg's [mailbox]); looked
        up once per run."""
        if self._mid is None:
            from vmm.models import shared
            self._mid = shared.maillocation_id(
                self.cur, self.config['mailbox.format'],
                self.config['mailbox.root'])
        return self._mid

    def create_mailbox(self, account):
        """The home and mailbox of *account*, in its mail location."""
        cfg = self.config
        if account.mid == self._maillocation_id():
            fmt, root = cfg['mailbox.format'], cfg['mailbox.root']
        else:
            fmt, root = account.mail_location
        self.stage_home(account.home, account.uid, account.domain.gid, fmt,
                        root, account.address)

    def stage_home(self, home, uid, gid, fmt, root, address):
        """Prepare a new account's home with its mailbox; it appears at
        *home* once the transaction has committed."""
        from vmm import mailbox
        cfg = self.config
        mode = cfg['account.directory_mode']
        self.staging.build_home(
            home, uid, gid, mode, lambda path: mailbox.create_mailbox(
                path, uid, gid, mode, fmt, root, cfg['mailbox.folders'],
                cfg['mailbox.subscribe'], address,
                doveadm=cfg['bin.doveadm']))

    def user_delete(self, text, delete_directory=None, force=False):
        account = self.account(text)
        if delete_directory is None:
            delete_directory = self.config['account.delete_directory']
        if delete_directory:
            self.require_root()
        pointing = account.aliases_pointing_here()
        if pointing and not force:
            raise VMMError(ngettext(
                "There is %(count)d alias or catch-all destination pointing "
                "at '%(address)s'; use --force to remove it too",
                "There are %(count)d aliases or catch-all destinations "
                "pointing at '%(address)s'; use --force to remove them too",
                len(pointing)) % {'count': len(pointing),
                              'address': account.unicode},
                           errors.ALIAS_PRESENT)
        if pointing:
            account.remove_alias_destinations()
        account.delete()
        self.log(_('account %s deleted') % account.address, account.address)
        if delete_directory:
            self.staging.remove(self.cur, account.home)
        return account

    def user_info(self, text):
        account = self.account(text)
        return account

    def quota_usage(self, account):
        """(bytes, messages) in use, or None if nothing knows.

        Dovecot's own accounting first (the shipped ``count`` quota writes
        nowhere else); without doveadm, or when it cannot answer, the
        dict-quota table that vmm 0.7 set-ups fill.  A failing doveadm is
        a warning, not the end of userinfo.
        """
        from vmm import doveadm
        if doveadm.installed(self.config):
            try:
                return doveadm.quota_usage(self.config, account.address)
            except doveadm.DoveadmError as err:
                self.warnings.append(str(err))
        self.cur.execute('SELECT bytes, messages FROM userquota '
                         'WHERE uid = %s', (account.uid,))
        return self.cur.fetchone()

    def disk_usage(self, account):
        from vmm.mailbox import disk_usage
        return disk_usage(self.config['bin.du'], account.home)

    def user_password(self, text, password=None, scheme=None,
                      password_hash=None):
        from vmm import password as pw
        account = self.account(text)
        if password_hash is not None:
            account.set_password(pw.check_hash(password_hash))
        else:
            scheme = pw.check_scheme(scheme) if scheme else None
            account.set_password(self.hash_password(
                password, account.address, scheme))
        self.log(_('account %s password changed') % account.address,
                 account.address)

    def user_name(self, text, name):
        name = check_text(name, _('name'), max_length=MAX_NAME_LENGTH)
        account = self.account(text)
        account.set_name(name)
        self.log(_('account %s name changed') % account.address,
                 account.address)

    def user_note(self, text, note):
        note = check_text(note, _('note'), multiline=True)
        account = self.account(text)
        account.set_note(note)
        self.log(_('account %s note changed') % account.address,
                 account.address)

    def user_quota(self, text, storage, messages=None):
        """*storage* 'domain' drops the account's own limit."""
        if storage == 'domain':
            quota = None
        else:
            quota = QuotaLimit(QuotaLimit.parse_bytes(storage),
                               QuotaLimit.parse_messages(messages or '0'))
        account = self.account(text)
        account.set_quota(quota)
        self.log(_('account %s quota changed') % account.address,
                 account.address)

    def user_services(self, text, enable=(), disable=(), reset=False):
        ServiceSet.check_names(list(enable) + list(disable))
        account = self.account(text)
        if reset:
            account.set_services(None)
        else:
            current = account.effective()['services']
            account.set_services(current.changed(enable, disable))
        self.log(_('account %s services changed') % account.address,
                 account.address)

    def user_transport(self, text, transport):
        transport = None if transport == 'domain' else Transport(transport)
        account = self.account(text)
        account.set_transport(transport)
        self.log(_('account %s transport changed') % account.address,
                 account.address)

    def get_user(self, uid):
        return Account.by_uid(self.cur, uid)

    # -- aliases, catch-all, relocated ----------------------------------------

    def _destinations(self, texts):
        return [EmailAddress.parse_destination(text) for text in texts]

    def _warn_missing_destinations(self, destinations):
        """Warn about local destinations that do not exist (yet)."""
        from vmm.models.account import address_kind
        for destination in destinations:
            if '%' in destination:
                continue
            localpart, domain_name = destination.rsplit('@', 1)
            kind = name_kind(self.cur, domain_name)
            if kind is None or kind[0] == 'relay':
                continue
            if address_kind(self.cur, kind[1], localpart) is None:
                self.warnings.append(
                    _("The destination '%s' does not exist yet")
                    % EmailAddress.display(destination))

    def _check_expansion_limit(self, count, address):
        limit = self.postconf_int('virtual_alias_expansion_limit', 1000)
        if count > limit:
            raise VMMError(ngettext(
                "The alias '%(alias)s' would have %(count)d destination; "
                "Postfix's virtual_alias_expansion_limit is %(limit)d",
                "The alias '%(alias)s' would have %(count)d destinations; "
                "Postfix's virtual_alias_expansion_limit is %(limit)d",
                count)
                           % {'alias': address, 'count': count,
                              'limit': limit}, errors.TOO_MANY_DESTINATIONS)

    def alias_add(self, text, destinations):
        address, domain = self._primary_address(text)
        destinations = self._destinations(destinations)
        from vmm.models.account import address_kind
        kind = address_kind(self.cur, domain.gid, address.localpart)
        if kind == 'account':
            raise VMMError(_("There is already an account with the address "
                             "'%s'") % address.unicode, errors.ACCOUNT_EXISTS)
        if kind == 'relocated':
            raise VMMError(_("There is already a relocated user with the "
                             "address '%s'") % address.unicode,
                           errors.RELOCATED_EXISTS)
        alias = Alias(self.cur, domain, address.localpart)
        present = alias.destinations()
        added, skipped = new_destinations(set(present), destinations)
        # Before anything is written: a refused alias costs no work.
        self._check_expansion_limit(len(present) + len(added),
                                    address.unicode)
        if not present:
            domain.check_limit('aliases')
        alias.insert(added)
        for destination in skipped:
            self.warnings.append(
                _("The destination '%(dest)s' is already in the alias "
                  "'%(alias)s'") % {'dest': EmailAddress.display(destination),
                                    'alias': address.unicode})
        self._warn_missing_destinations(added)
        if added:
            self.check_alias_loops(
                self._loop_starts_for_alias(domain, address.localpart))
            self.log(_('alias %(alias)s: added %(dests)s')
                     % {'alias': address, 'dests': ', '.join(added)}, address)
        return added

    def alias_delete(self, text, destinations=None):
        address, domain = self._owner(text)
        alias = Alias(self.cur, domain, address.localpart)
        deleted = alias.delete(self._destinations(destinations)
                               if destinations else None)
        self.log(_('alias %(alias)s: deleted %(dests)s')
                 % {'alias': alias.address, 'dests': ', '.join(deleted)},
                 alias.address)

    def alias_info(self, text):
        address, domain = self._owner(text)
        from vmm.models.account import address_kind
        alias = Alias(self.cur, domain, address.localpart)
        kind = address_kind(self.cur, domain.gid, address.localpart)
        if kind == 'account':
            raise VMMError(_("'%s' is an account, not an alias")
                           % address.unicode, errors.ACCOUNT_EXISTS)
        if kind == 'relocated':
            raise VMMError(_("'%s' is a relocated user, not an alias")
                           % address.unicode, errors.RELOCATED_EXISTS)
        return alias, alias.require()

    def catchall_add(self, name, destinations):
        domain = self._domain(name, lock=True)
        destinations = self._destinations(destinations)
        catchall = CatchallAlias(self.cur, domain)
        present = catchall.destinations()
        added, _skipped = new_destinations(set(present), destinations)
        self._check_expansion_limit(len(present) + len(added),
                                    '@' + domain.unicode)
        if not present:
            domain.check_limit('aliases')
        added, skipped = catchall.add(destinations)
        for destination in skipped:
            self.warnings.append(
                _("The destination '%(dest)s' is already a catch-all "
                  "destination of '%(domain)s'")
                % {'dest': EmailAddress.display(destination),
                   'domain': domain.unicode})
        self._warn_missing_destinations(added)
        if added:
            self.check_alias_loops(self._loop_starts_for_domain(domain))
            self.log(_('catch-all %(domain)s: added %(dests)s')
                     % {'domain': domain.name, 'dests': ', '.join(added)},
                     domain.name)

    def catchall_delete(self, name, destinations=None):
        domain = self._domain(name, lock=True)
        deleted = CatchallAlias(self.cur, domain).delete(
            self._destinations(destinations) if destinations else None)
        self.log(_('catch-all %(domain)s: deleted %(dests)s')
                 % {'domain': domain.name, 'dests': ', '.join(deleted)},
                 domain.name)

    def catchall_info(self, name):
        domain = self._domain(name)
        return domain, CatchallAlias(self.cur, domain).destinations()

    def relocated_add(self, text, destination):
        address, domain = self._primary_address(text)
        destination = EmailAddress.parse_destination(destination,
                                                     placeholders=False)
        if destination == str(address):
            raise VMMError(_("The relocated address '%s' and its new address "
                             "are the same") % address.unicode,
                           errors.RELOCATED_ADDR_DEST_IDENTICAL)
        refuse_existing(self.cur, domain, address.localpart)
        Relocated.create(self.cur, domain, address.localpart, destination)
        self.log(_('relocated user %(address)s → %(dest)s')
                 % {'address': address, 'dest': destination}, address)

    def relocated_delete(self, text):
        address, domain = self._owner(text)
        relocated = Relocated.get(self.cur, domain, address.localpart)
        relocated.delete()
        self.log(_('relocated user %s deleted') % address, address)

    def relocated_info(self, text):
        address, domain = self._owner(text)
        return Relocated.get(self.cur, domain, address.localpart)

    def check_alias_loops(self, starts):
        """Refuse (72) a change after which mail would loop (vmm(1))."""
        from vmm.models import loops
        limit = self.postconf_int('virtual_alias_recursion_limit', 1000)
        loops.check(self.cur, starts, limit)

    def _loop_starts_for_domain(self, domain, names=None):
        from vmm.models import loops
        return loops.starts_for_domain(self.cur, domain.gid, names)

    def _loop_starts_for_alias(self, domain, localpart):
        from vmm.models import loops
        return loops.starts_for_alias(self.cur, domain.gid, localpart)


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


def _format_services(services):
    from vmm.models.values import SERVICES
    return ' '.join(name for name in SERVICES if getattr(services, name)) \
        or '-'


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
