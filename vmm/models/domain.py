"""Domains: primary domains (domain_data + their names in domain_name),
alias domains (further names of a primary domain) and relay domains."""

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _, ngettext
from vmm.models import shared
from vmm.models.values import (
    QuotaLimit,
    ServiceSet,
    display_domain,
    domain_order,
)


def name_kind(cur, name):
    """What *name* is: ('primary'|'alias', gid), ('relay', None) or None."""
    cur.execute('SELECT gid, is_primary FROM domain_name '
                'WHERE domainname = %s', (name,))
    row = cur.fetchone()
    if row:
        return ('primary' if row[1] else 'alias'), row[0]
    cur.execute('SELECT 1 FROM relay_domain WHERE domainname = %s', (name,))
    if cur.fetchone():
        return 'relay', None
    return None


# First key of the advisory locks that serialise creating one domain name.
_NAME_LOCK = 0x766d6d


def lock_name(cur, name):
    """Hold *name* until the transaction ends, so that two commands that
    create it at once (as any kind of domain) run one after the other and
    the second sees the first one's name (the unique index alone does not
    cover a primary or alias name racing a relay domain)."""
    cur.execute('SELECT pg_advisory_xact_lock(%s, hashtext(%s))',
                (_NAME_LOCK, name))


def refuse_taken(cur, name):
    """Raise the error (vmm(1) EXIT STATUS) for *name* when it is already
    a domain of any kind."""
    kind = name_kind(cur, name)
    if kind is None:
        return
    shown = display_domain(name)
    if kind[0] == 'primary':
        raise VMMError(_("The domain '%s' already exists") % shown,
                       errors.DOMAIN_EXISTS)
    if kind[0] == 'alias':
        raise VMMError(_("The domain '%s' already exists as an alias "
                         "domain") % shown, errors.DOMAIN_ALIAS_EXISTS)
    raise VMMError(_("The domain '%s' already exists as a relay domain")
                   % shown, errors.DOMAIN_EXISTS)


class Domain:
    """A primary domain: its GID, directory and the defaults its accounts
    inherit (transport, quota limit, service set), note and limits."""

    _COLUMNS = ('d.gid, n.domainname, d.qid, d.ssid, d.tid, d.domaindir, '
                'd.note, d.max_accounts, d.max_aliases, d.max_alias_domains')

    def __init__(self, cur, row):
        self._cur = cur
        (self.gid, self.name, self.qid, self.ssid, self.tid, self.directory,
         self.note, self.max_accounts, self.max_aliases,
         self.max_alias_domains) = row

    @classmethod
    def lookup(cls, cur, name, lock=False):
        """The primary domain named *name*, or None.

        *lock* takes the domain's row for the rest of the transaction, so
        that limit checks of concurrent commands happen one after another.
        """
        cur.execute('SELECT %s FROM domain_name n JOIN domain_data d '
                    'ON d.gid = n.gid WHERE n.domainname = %%s AND '
                    'n.is_primary%s' % (cls._COLUMNS,
                                        ' FOR UPDATE OF d' if lock else ''),
                    (name,))
        row = cur.fetchone()
        return cls(cur, row) if row else None

    @classmethod
    def by_gid(cls, cur, gid, lock=False):
        cur.execute('SELECT %s FROM domain_name n JOIN domain_data d '
                    'ON d.gid = n.gid WHERE d.gid = %%s AND n.is_primary%s'
                    % (cls._COLUMNS, ' FOR UPDATE OF d' if lock else ''),
                    (gid,))
        row = cur.fetchone()
        return cls(cur, row) if row else None

    @classmethod
    def get(cls, cur, name, lock=False):
        """The primary domain *name*; exit 57 (with a hint) otherwise."""
        domain = cls.lookup(cur, name, lock)
        if domain is None:
            kind = name_kind(cur, name)
            if kind and kind[0] == 'alias':
                primary = cls.by_gid(cur, kind[1])
                raise VMMError(_("'%(alias)s' is an alias domain of "
                                 "'%(primary)s'; use the primary domain")
                               % {'alias': display_domain(name),
                                  'primary': display_domain(primary.name)},
                               errors.NO_SUCH_DOMAIN)
            raise VMMError(_("The domain '%s' does not exist")
                           % display_domain(name), errors.NO_SUCH_DOMAIN)
        return domain

    @classmethod
    def owning(cls, cur, name, lock=False):
        """The primary domain *name* belongs to, as primary or alias name;
        exit 57 if it is neither."""
        cur.execute('SELECT %s FROM domain_name a JOIN domain_name n '
                    'ON n.gid = a.gid AND n.is_primary JOIN domain_data d '
                    'ON d.gid = a.gid WHERE a.domainname = %%s%s'
                    % (cls._COLUMNS, ' FOR UPDATE OF d' if lock else ''),
                    (name,))
        row = cur.fetchone()
        if row is None:
            raise VMMError(_("The domain '%s' does not exist")
                           % display_domain(name), errors.NO_SUCH_DOMAIN)
        return cls(cur, row)

    @classmethod
    def create(cls, cur, name, directory_for, transport, quota, services,
               limits, note=None):
        """Insert the domain; *directory_for(gid)* gives its directory."""
        lock_name(cur, name)
        refuse_taken(cur, name)
        cur.execute("SELECT nextval('domain_gid')")
        gid = cur.fetchone()[0]
        insert_domains(cur, [
            (gid, shared.quota_id(cur, quota),
             shared.services_id(cur, services),
             shared.transport_id(cur, transport), directory_for(gid), note)
            + tuple(limits)])
        insert_name(cur, name, gid, True)
        return cls.by_gid(cur, gid)

    @property
    def unicode(self):
        return display_domain(self.name)

    @property
    def transport(self):
        return shared.transport_text(self._cur, self.tid)

    @property
    def quota(self):
        return shared.quota_of(self._cur, self.qid)

    @property
    def services(self):
        return shared.services_of(self._cur, self.ssid)

    def counts(self):
        """Accounts, aliases (catch-all counts as one alias), alias domains,
        relocated users and catch-all destinations."""
        cur = self._cur
        cur.execute(
            'SELECT (SELECT count(*) FROM users WHERE gid = %(g)s), '
            '(SELECT count(DISTINCT address) FROM alias WHERE gid = %(g)s), '
            '(SELECT count(*) FROM domain_name '
            ' WHERE gid = %(g)s AND NOT is_primary), '
            '(SELECT count(*) FROM relocated WHERE gid = %(g)s), '
            '(SELECT count(*) FROM catchall WHERE gid = %(g)s)',
            {'g': self.gid})
        accounts, aliases, alias_domains, relocated, catchall = cur.fetchone()
        return {'accounts': accounts, 'aliases': aliases,
                'alias_domains': alias_domains, 'relocated': relocated,
                'catchall': catchall}

    def summary(self):
        """(transport, quota, services, counts()) in one query, for
        domaininfo."""
        cur = self._cur
        cur.execute(
            'SELECT t.transport, q.bytes, q.messages, s.smtp, s.pop3, '
            's.imap, s.sieve, '
            '(SELECT count(*) FROM users WHERE gid = d.gid), '
            '(SELECT count(DISTINCT address) FROM alias WHERE gid = d.gid), '
            '(SELECT count(*) FROM domain_name '
            ' WHERE gid = d.gid AND NOT is_primary), '
            '(SELECT count(*) FROM relocated WHERE gid = d.gid), '
            '(SELECT count(*) FROM catchall WHERE gid = d.gid) '
            'FROM domain_data d JOIN transport t ON t.tid = d.tid '
            'JOIN quotalimit q ON q.qid = d.qid '
            'JOIN service_set s ON s.ssid = d.ssid WHERE d.gid = %s',
            (self.gid,))
        row = cur.fetchone()
        return (row[0], QuotaLimit(row[1], row[2]), ServiceSet(*row[3:7]),
                dict(zip(('accounts', 'aliases', 'alias_domains',
                          'relocated', 'catchall'), row[7:])))

    def check_limit(self, what, adding=1):
        """Refuse (71) when *adding* more of *what* passes the domain's
        limit.  Call with the domain locked (lookup(..., lock=True))."""
        limit = {'accounts': self.max_accounts, 'aliases': self.max_aliases,
                 'alias_domains': self.max_alias_domains}[what]
        if not limit:
            return
        used = self.counts()
        in_use = used[what]
        if what == 'aliases' and used['catchall']:
            in_use += 1
        if in_use + adding > limit:
            messages = {
                'accounts': ngettext(
                    "The domain '%(domain)s' may have at most %(limit)d "
                    "account (%(used)d in use)",
                    "The domain '%(domain)s' may have at most %(limit)d "
                    "accounts (%(used)d in use)", limit),
                'aliases': ngettext(
                    "The domain '%(domain)s' may have at most %(limit)d "
                    "alias (%(used)d in use)",
                    "The domain '%(domain)s' may have at most %(limit)d "
                    "aliases (%(used)d in use)", limit),
                'alias_domains': ngettext(
                    "The domain '%(domain)s' may have at most %(limit)d "
                    "alias domain (%(used)d in use)",
                    "The domain '%(domain)s' may have at most %(limit)d "
                    "alias domains (%(used)d in use)", limit)}
            raise VMMError(messages[what] % {'domain': self.unicode,
                                             'limit': limit, 'used': in_use},
                           errors.DOMAIN_LIMIT_REACHED)

    def alias_domain_names(self):
        """Sorted by their Unicode form, as shown."""
        self._cur.execute('SELECT domainname FROM domain_name WHERE gid = %s '
                          'AND NOT is_primary', (self.gid,))
        return sorted((row[0] for row in self._cur.fetchall()),
                      key=domain_order)

    def set_note(self, note):
        self._cur.execute('UPDATE domain_data SET note = %s WHERE gid = %s',
                          (note, self.gid))
        self.note = note

    def set_limits(self, **limits):
        for column, value in limits.items():
            self._cur.execute('UPDATE domain_data SET %s = %%s '
                              'WHERE gid = %%s' % column, (value, self.gid))
            setattr(self, column, value)

    def _set_default(self, column, value_id, force):
        """Change one inherited default; *force* drops accounts' own."""
        cur = self._cur
        cur.execute('UPDATE domain_data SET %s = %%s WHERE gid = %%s'
                    % column, (value_id, self.gid))
        setattr(self, column, value_id)
        if force:
            cur.execute('UPDATE users SET %s = NULL WHERE gid = %%s AND '
                        '%s IS NOT NULL' % (column, column), (self.gid,))
            return cur.rowcount
        return 0

    def set_transport(self, transport, force=False):
        return self._set_default(
            'tid', shared.transport_id(self._cur, transport), force)

    def set_quota(self, quota, force=False):
        return self._set_default(
            'qid', shared.quota_id(self._cur, quota), force)

    def set_services(self, services, force=False):
        return self._set_default(
            'ssid', shared.services_id(self._cur, services), force)

    def delete(self):
        """Remove the domain with everything in it (the caller checked).

        Its names go first: their trigger drops all the domain's cached
        lookup rows in one statement per table, and the triggers of the
        rows after them find nothing left to recompute."""
        cur = self._cur
        params = (self.gid,)
        for table in ('domain_name', 'alias', 'relocated', 'catchall',
                      'users', 'domain_data'):
            cur.execute('DELETE FROM %s WHERE gid = %%s' % table, params)


def insert_domains(cur, rows):
    """Rows of (gid, qid, ssid, tid, domaindir, note, max_accounts,
    max_aliases, max_alias_domains)."""
    shared.insert_rows(cur, 'domain_data', (
        'gid', 'qid', 'ssid', 'tid', 'domaindir', 'note', 'max_accounts',
        'max_aliases', 'max_alias_domains'), rows)


def insert_names(cur, rows):
    """Rows of (domainname, gid, is_primary)."""
    shared.insert_rows(cur, 'domain_name',
                       ('domainname', 'gid', 'is_primary'), rows)


def insert_name(cur, name, gid, primary):
    import psycopg2.errors
    cur.execute('SAVEPOINT domain_name')
    try:
        insert_names(cur, [(name, gid, primary)])
    except psycopg2.errors.UniqueViolation:
        # Taken meanwhile by a concurrent transaction.
        cur.execute('ROLLBACK TO SAVEPOINT domain_name')
        refuse_taken(cur, name)
        raise
    cur.execute('RELEASE SAVEPOINT domain_name')


class AliasDomain:
    """A further name of a primary domain."""

    def __init__(self, name, domain):
        self.name = name
        self.domain = domain

    @classmethod
    def get(cls, cur, name):
        kind = name_kind(cur, name)
        if kind is None or kind[0] != 'alias':
            if kind and kind[0] == 'primary':
                raise VMMError(_("'%s' is a primary domain, not an alias "
                                 "domain") % display_domain(name),
                               errors.ALIASDOMAIN_ISDOMAIN)
            raise VMMError(_("The alias domain '%s' does not exist")
                           % display_domain(name), errors.NO_SUCH_ALIASDOMAIN)
        return cls(name, Domain.by_gid(cur, kind[1]))

    @staticmethod
    def target(cur, destination):
        """The primary domain an alias domain may point at (exit 25)."""
        domain = Domain.lookup(cur, destination, lock=True)
        if domain is None:
            raise VMMError(_("The destination '%s' is not an existing "
                             "primary domain")
                           % display_domain(destination),
                           errors.ALIASDOMAIN_NO_DOMDEST)
        return domain

    @classmethod
    def create(cls, cur, name, domain):
        lock_name(cur, name)
        kind = name_kind(cur, name)
        if kind and kind[0] == 'primary':
            raise VMMError(_("'%s' is a primary domain; it cannot also be an "
                             "alias domain") % display_domain(name),
                           errors.ALIASDOMAIN_ISDOMAIN)
        if kind and kind[0] == 'alias':
            raise VMMError(_("The alias domain '%s' already exists")
                           % display_domain(name), errors.ALIASDOMAIN_EXISTS)
        if kind:
            refuse_taken(cur, name)
        domain.check_limit('alias_domains')
        insert_name(cur, name, domain.gid, False)
        return cls(name, domain)

    def switch(self, cur, domain):
        domain.check_limit('alias_domains')
        cur.execute('UPDATE domain_name SET gid = %s WHERE domainname = %s',
                    (domain.gid, self.name))
        self.domain = domain

    def delete(self, cur):
        cur.execute('DELETE FROM domain_name WHERE domainname = %s AND NOT '
                    'is_primary', (self.name,))


class RelayDomain:
    """A backup-MX domain: accepted and passed on with its transport."""

    def __init__(self, cur, name, tid, note):
        self._cur = cur
        self.name, self.tid, self.note = name, tid, note

    @classmethod
    def get(cls, cur, name):
        cur.execute('SELECT domainname, tid, note FROM relay_domain '
                    'WHERE domainname = %s', (name,))
        row = cur.fetchone()
        if row is None:
            raise VMMError(_("The relay domain '%s' does not exist")
                           % display_domain(name), errors.NO_SUCH_DOMAIN)
        return cls(cur, *row)

    @classmethod
    def create(cls, cur, name, transport, recipients, note=None):
        lock_name(cur, name)
        refuse_taken(cur, name)
        tid = shared.transport_id(cur, transport)
        insert_relay(cur, name, tid, note, sorted(set(recipients)))
        return cls(cur, name, tid, note)

    @property
    def unicode(self):
        return display_domain(self.name)

    @property
    def transport(self):
        return shared.transport_text(self._cur, self.tid)

    def recipients(self):
        self._cur.execute('SELECT local_part FROM relay_recipient WHERE '
                          'domainname = %s ORDER BY local_part', (self.name,))
        return ['%s@%s' % (row[0], self.name) for row in
                self._cur.fetchall()]

    def delete(self):
        self._cur.execute('DELETE FROM relay_domain WHERE domainname = %s',
                          (self.name,))


def directory_conflict(cur, path, gid=None):
    """(name, directory) of a domain other than *gid* whose directory is
    *path*, lies above it or below it; None when there is none.  Domain
    directories never nest, so that removing one never reaches another
    domain's mail, nor an account's home another account's."""
    cur.execute(
        'SELECT n.domainname, d.domaindir FROM domain_data d '
        'JOIN domain_name n ON n.gid = d.gid AND n.is_primary '
        'WHERE d.gid IS DISTINCT FROM %(gid)s AND (d.domaindir = %(path)s '
        "OR starts_with(%(path)s, d.domaindir || '/') "
        "OR starts_with(d.domaindir, %(path)s || '/')) LIMIT 1",
        {'path': path, 'gid': gid})
    return cur.fetchone()


def insert_relay(cur, name, tid, note, recipients):
    """The relay domain and its recipients' local parts."""
    shared.insert_rows(cur, 'relay_domain', ('domainname', 'tid', 'note'),
                       [(name, tid, note)])
    shared.insert_rows(cur, 'relay_recipient', ('domainname', 'local_part'),
                       [(name, localpart) for localpart in recipients])
