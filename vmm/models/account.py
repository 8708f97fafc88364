"""Accounts (mailboxes): the users table."""

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.models import shared
from vmm.models.values import (
    EmailAddress,
    QuotaLimit,
    ServiceSet,
    display_order,
)


def address_kind(cur, gid, localpart):
    """What the address is in its domain: 'account', 'alias', 'relocated'
    or None — an address is only ever one of them."""
    cur.execute(
        "SELECT 'account' FROM users WHERE gid = %(g)s AND local_part = %(l)s "
        "UNION ALL SELECT 'alias' FROM alias WHERE gid = %(g)s AND "
        "address = %(l)s UNION ALL SELECT 'relocated' FROM relocated "
        "WHERE gid = %(g)s AND address = %(l)s LIMIT 1",
        {'g': gid, 'l': localpart})
    row = cur.fetchone()
    return row[0] if row else None


def refuse_existing(cur, domain, localpart):
    """Exit 21/28/60 when the address is already something."""
    kind = address_kind(cur, domain.gid, localpart)
    if kind is None:
        return
    address = '%s@%s' % (localpart, domain.unicode)
    raise {
        'account': VMMError(_("There is already an account with the address "
                              "'%s'") % address, errors.ACCOUNT_EXISTS),
        'alias': VMMError(_("There is already an alias with the address "
                            "'%s'") % address, errors.ALIAS_EXISTS),
        'relocated': VMMError(_("There is already a relocated user with the "
                                "address '%s'") % address,
                              errors.RELOCATED_EXISTS),
    }[kind]


class Account:
    """One mailbox account and its own overrides of the domain defaults."""

    _COLUMNS = ('u.uid, u.local_part, u.passwd, u.name, u.note, u.mid, '
                'u.qid, u.ssid, u.tid')

    def __init__(self, cur, domain, row):
        self._cur = cur
        self.domain = domain
        (self.uid, self.localpart, self.password_hash, self.name, self.note,
         self.mid, self.qid, self.ssid, self.tid) = row

    @classmethod
    def lookup(cls, cur, domain, localpart):
        cur.execute('SELECT %s FROM users u WHERE u.gid = %%s AND '
                    'u.local_part = %%s' % cls._COLUMNS,
                    (domain.gid, localpart))
        row = cur.fetchone()
        return cls(cur, domain, row) if row else None

    @classmethod
    def get(cls, cur, domain, localpart):
        account = cls.lookup(cur, domain, localpart)
        if account is None:
            raise VMMError(_("The account '%s' does not exist")
                           % ('%s@%s' % (localpart, domain.unicode)),
                           errors.NO_SUCH_ACCOUNT)
        return account

    @classmethod
    def by_uid(cls, cur, uid):
        from vmm.models.domain import Domain
        cur.execute('SELECT gid FROM users WHERE uid = %s', (uid,))
        row = cur.fetchone()
        if row is None:
            raise VMMError(_('There is no account with the UID %d') % uid,
                           errors.NO_SUCH_ACCOUNT)
        domain = Domain.by_gid(cur, row[0])
        cur.execute('SELECT %s FROM users u WHERE u.uid = %%s'
                    % cls._COLUMNS, (uid,))
        return cls(cur, domain, cur.fetchone())

    @classmethod
    def create(cls, cur, domain, localpart, password_hash, mid, name=None,
               note=None, uid=None):
        """Insert the account (the caller holds the domain's lock, so the
        address cannot be taken meanwhile by another vmm)."""
        refuse_existing(cur, domain, localpart)
        written = insert_accounts(
            cur, [(localpart, password_hash, name, uid, domain.gid, mid,
                   None, None, None, note)],
            cls._COLUMNS.replace('u.', ''))
        if not written:
            refuse_existing(cur, domain, localpart)
            raise VMMError(_('The UID %d is already in use') % uid,
                           errors.ACCOUNT_EXISTS)
        return cls(cur, domain, written[0])

    @property
    def address(self):
        return '%s@%s' % (self.localpart, self.domain.name)

    @property
    def unicode(self):
        return '%s@%s' % (self.localpart, self.domain.unicode)

    @property
    def home(self):
        return '%s/%d' % (self.domain.directory, self.uid)

    @property
    def mail_location(self):
        """(format, directory) of the mailbox below the home."""
        self._cur.execute('SELECT f.format, m.directory FROM maillocation m '
                          'JOIN mailboxformat f ON f.fid = m.fid '
                          'WHERE m.mid = %s', (self.mid,))
        return self._cur.fetchone()

    def effective(self):
        """Transport, quota, services and mail location as Postfix and
        Dovecot see them — the account's own value, else the domain's —
        with flags saying which were inherited; one query."""
        self._cur.execute(
            'SELECT t.transport, q.bytes, q.messages, s.smtp, s.pop3, '
            's.imap, s.sieve, f.format, m.directory '
            'FROM users u JOIN domain_data d ON d.gid = u.gid '
            'JOIN transport t ON t.tid = coalesce(u.tid, d.tid) '
            'JOIN quotalimit q ON q.qid = coalesce(u.qid, d.qid) '
            'JOIN service_set s ON s.ssid = coalesce(u.ssid, d.ssid) '
            'JOIN maillocation m ON m.mid = u.mid '
            'JOIN mailboxformat f ON f.fid = m.fid WHERE u.uid = %s',
            (self.uid,))
        row = self._cur.fetchone()
        return {
            'transport': row[0],
            'quota': QuotaLimit(row[1], row[2]),
            'services': ServiceSet(*row[3:7]),
            'mail_location': (row[7], row[8]),
            'transport_inherited': self.tid is None,
            'quota_inherited': self.qid is None,
            'services_inherited': self.ssid is None,
        }

    def _update(self, column, value):
        self._cur.execute('UPDATE users SET %s = %%s WHERE uid = %%s'
                          % column, (value, self.uid))

    def set_password(self, password_hash):
        self._update('passwd', password_hash)
        self.password_hash = password_hash

    def set_name(self, name):
        self._update('name', name)
        self.name = name

    def set_note(self, note):
        self._update('note', note)
        self.note = note

    def set_transport(self, transport):
        """Own transport, or None to inherit the domain's."""
        self.tid = None if transport is None else \
            shared.transport_id(self._cur, transport)
        self._update('tid', self.tid)

    def set_quota(self, quota):
        self.qid = None if quota is None else \
            shared.quota_id(self._cur, quota)
        self._update('qid', self.qid)

    def set_services(self, services):
        self.ssid = None if services is None else \
            shared.services_id(self._cur, services)
        self._update('ssid', self.ssid)

    def aliases_pointing_here(self):
        """(alias address, destination) of every alias and catch-all that
        delivers to this account, under any of its domain's names."""
        cur = self._cur
        cur.execute(
            "SELECT a.address || '@' || n.domainname, a.destination "
            'FROM alias a JOIN domain_name n ON n.gid = a.gid AND '
            'n.is_primary WHERE a.destination = ANY(%(names)s) '
            "UNION ALL SELECT '@' || n.domainname, c.destination "
            'FROM catchall c JOIN domain_name n ON n.gid = c.gid AND '
            'n.is_primary WHERE c.destination = ANY(%(names)s)',
            {'names': self.all_addresses()})
        return sorted(cur.fetchall(), key=lambda row: tuple(
            display_order(EmailAddress.display(text)) for text in row))

    def all_addresses(self):
        """The account's address under its primary and alias domains."""
        self._cur.execute('SELECT %s || \'@\' || domainname FROM domain_name '
                          'WHERE gid = %s ORDER BY NOT is_primary, '
                          'domainname', (self.localpart, self.domain.gid))
        return [row[0] for row in self._cur.fetchall()]

    def remove_alias_destinations(self):
        self._cur.execute('DELETE FROM alias WHERE destination = ANY(%s)',
                          (self.all_addresses(),))
        removed = self._cur.rowcount
        self._cur.execute('DELETE FROM catchall WHERE destination = ANY(%s)',
                          (self.all_addresses(),))
        return removed + self._cur.rowcount

    def delete(self):
        self._cur.execute('DELETE FROM users WHERE uid = %s', (self.uid,))


def insert_accounts(cur, rows, returning='uid'):
    """Rows of (local_part, passwd, name, uid, gid, mid, qid, ssid, tid,
    note); a uid of None takes the next one, a NULL qid, ssid or tid
    inherits the domain's.  Rows whose address or UID is taken meanwhile
    are left out: the *returning* columns of those written come back."""
    return shared.insert_rows(
        cur, 'users', ('local_part', 'passwd', 'name', 'uid', 'gid', 'mid',
                       'qid', 'ssid', 'tid', 'note'), rows,
        template="(%s, %s, %s, coalesce(%s, nextval('users_uid')), %s, %s, "
                 '%s, %s, %s, %s)', returning=returning)
