"""Accounts: the handler's work for the user* subcommands and
getuser."""


from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _, ngettext
from vmm.models.account import Account
from vmm.models.values import (
    MAX_NAME_LENGTH,
    QuotaLimit,
    ServiceSet,
    Transport,
    check_text,
)


class AccountWork:
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
        return account.unicode

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

    def user_info(self, text, details=None):
        """userinfo: *details* 'aliases', 'du' or 'full' adds what points
        here, the disk usage (also with account.disk_usage), or both."""
        from vmm.handler.results import AccountInfo
        account = self.account(text)
        settings = account.effective()
        disk = None
        if details in ('du', 'full') or self.config['account.disk_usage']:
            disk = self.disk_usage(account)
        pointing = None
        if details in ('aliases', 'full'):
            pointing = tuple(account.aliases_pointing_here())
        return AccountInfo(
            address=account.unicode, name=account.name, uid=account.uid,
            gid=account.domain.gid, home=account.home,
            mail_location='%s:~/%s' % settings['mail_location'],
            quota=settings['quota'],
            quota_inherited=settings['quota_inherited'],
            transport=settings['transport'],
            transport_inherited=settings['transport_inherited'],
            services=settings['services'],
            services_inherited=settings['services_inherited'],
            note=account.note, quota_usage=self.quota_usage(account),
            disk_usage=disk, pointing_here=pointing)

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
        from vmm.handler.results import AccountOwner
        account = Account.by_uid(self.cur, uid)
        return AccountOwner(account.uid, account.domain.gid, account.unicode)
