"""Writing a JSON document as it is read: each domain, then its records
in chunks, checked and written together, and their directories staged;
relay domains in the end."""

import os

from vmm.errors import VMMError
from vmm.exchange import COUNT_KEYS, InvalidImport, at, located
from vmm.exchange.document import (
    RECORDS,
    check_account,
    check_against_database,
    check_alias,
    check_document,
    check_relocated,
)
from vmm.i18n import _, ngettext
from vmm.models.account import insert_accounts
from vmm.models.alias import insert_aliases, insert_catchall, insert_relocated
from vmm.models.domain import insert_domains, insert_names, insert_relay


class _Ids:
    """Ids of the shared rows (transport, quota, services, mail location),
    looked up or created once per distinct value."""

    def __init__(self, cur):
        self._cur = cur
        self._cache = {}

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def transport(self, transport):
        from vmm.models import shared
        if transport is None:
            return None
        return self._get(('t', str(transport)),
                         lambda: shared.transport_id(self._cur, transport))

    def quota(self, quota):
        from vmm.models import shared
        if quota is None:
            return None
        return self._get(('q', quota.bytes, quota.messages),
                         lambda: shared.quota_id(self._cur, quota))

    def services(self, services):
        from vmm.models import shared
        if services is None:
            return None
        return self._get(('s',) + services.as_tuple(),
                         lambda: shared.services_id(self._cur, services))

    def mailbox(self, fmt, directory):
        from vmm.models import shared
        return self._get(('m', fmt, directory), lambda: shared.
                         maillocation_id(self._cur, fmt, directory))


def _lock_names(cur):
    """Keep concurrent commands from creating names, GIDs and UIDs while
    the import checks and writes them (Postfix and Dovecot still read)."""
    cur.execute('LOCK TABLE domain_data, domain_name, relay_domain, users '
                'IN SHARE ROW EXCLUSIVE MODE')


def _advance_sequence(cur, sequence, table, column):
    """After rows with given ids: the sequence continues above them
    (called last, as setval is not undone by a rollback)."""
    cur.execute('SELECT setval(%%s, m) FROM (SELECT max(%s) AS m FROM %s) '
                'x, %s s WHERE m >= s.last_value + CASE WHEN s.is_called '
                'THEN 1 ELSE 0 END' % (column, table, sequence), (sequence,))


def import_json(handler, reader, dry_run, progress):
    """*reader()* reads the document from its start."""
    from vmm.exchange import importing
    from vmm.models import loops
    plan = check_document(handler, importing.outline(reader()))
    cur = handler.cur
    _lock_names(cur)
    check_against_database(cur, plan)
    writer = _Writer(handler, plan, reader, dry_run)
    total = sum(len(plan.domains) + sum(d.counts.values())
                for d in plan.domains)
    domain = kind = None
    for event in progress(importing.records(reader(), plan), total,
                          _('import')):
        if event[0] is not domain or event[1] != kind:
            writer.flush()
        if event[0] is not domain:
            domain = event[0]
            writer.begin_domain(domain)
        kind = event[1]
        if kind is not None:
            writer.add(*event)
    writer.flush()
    ids, counts = writer.ids, writer.counts
    for relay in plan.relays:
        insert_relay(cur, relay.name, ids.transport(relay.transport),
                     relay.note, relay.recipients)
        counts['relay_domains'] += 1
        handler.log(_('relay domain %s imported') % relay.name, relay.name)
    for domain in plan.domains:
        if domain.counts['aliases'] or domain.catchall or domain.alias_names:
            with at(domain.where):
                handler.check_alias_loops(_loop_starts(
                    cur, loops.starts_for_domain(cur, domain.gid)))
    if not dry_run:
        _advance_sequence(cur, 'domain_gid', 'domain_data', 'gid')
        _advance_sequence(cur, 'users_uid', 'users', 'uid')
        if writer.missing:
            handler.after_commit(lambda: _make_mailboxes(handler,
                                                         writer.missing))
    return counts


# Records checked and written at a time.
CHUNK = 1000


class _Writer:
    """Writes a domain and then its records, a chunk of one kind at a
    time; each chunk is checked against what is written already, which
    holds the document's earlier records: no set of them is kept."""

    def __init__(self, handler, plan, reader, dry_run):
        self.handler, self.plan, self.dry_run = handler, plan, dry_run
        self._reader = reader
        self.cur = handler.cur
        self.ids = _Ids(self.cur)
        self.counts = dict.fromkeys(COUNT_KEYS, 0)
        self.missing = []
        self._gids = {domain.gid for domain in plan.domains}
        self._domain = None
        self._kind = None
        self._chunk = []

    def begin_domain(self, domain):
        cur, ids = self.cur, self.ids
        self._domain = domain
        insert_domains(cur, [
            (domain.gid, ids.quota(domain.quota),
             ids.services(domain.services), ids.transport(domain.transport),
             domain.directory, domain.note) + domain.limits])
        insert_names(cur, [(domain.name, domain.gid, True)] +
                     [(name, domain.gid, False)
                      for name in domain.alias_names])
        insert_catchall(cur, [(domain.gid, d) for d in domain.catchall])
        if not self.dry_run and not os.path.lexists(domain.directory):
            with located(domain.where):
                self.handler.staging.build_domain(
                    domain.directory, domain.gid,
                    self.handler.config['domain.directory_mode'])
        counts = self.counts
        counts['domains'] += 1
        counts['alias_domains'] += len(domain.alias_names)
        counts['catchall'] += len(domain.catchall)
        for kind in RECORDS:
            counts[kind] += domain.counts[kind]
        self.handler.log(
            _('domain %(domain)s imported (accounts: %(accounts)d, aliases: '
              '%(aliases)d, relocated users: %(relocated)d, alias domains: '
              '%(alias_domains)d)')
            % {'domain': domain.name, 'accounts': domain.counts['accounts'],
               'aliases': domain.counts['aliases'],
               'relocated': domain.counts['relocated'],
               'alias_domains': len(domain.alias_names)},
            domain.name, *domain.alias_names)

    def add(self, domain, kind, value, where):
        if kind == 'accounts':
            record = check_account(self.handler, value, where)
            localpart = record.localpart
        elif kind == 'aliases':
            localpart, destinations = check_alias(value, where, domain)
            record = (where, localpart, destinations)
        else:
            localpart, destination = check_relocated(value, where, domain)
            record = (where, localpart, destination)
        self._kind = kind
        self._chunk.append((where, localpart, record))
        if len(self._chunk) >= CHUNK:
            self.flush()

    def flush(self):
        chunk, self._chunk = self._chunk, []
        if not chunk:
            return
        self._refuse_taken_localparts(chunk)
        if self._kind == 'accounts':
            self._write_accounts([record for _w, _l, record in chunk])
        elif self._kind == 'aliases':
            insert_aliases(self.cur, [
                (self._domain.gid, localpart, destination)
                for _w, localpart, (_w2, _l, destinations) in chunk
                for destination in destinations])
        else:
            insert_relocated(self.cur, [
                (self._domain.gid, localpart, record[2])
                for _w, localpart, record in chunk])

    def _first(self, found):
        from vmm.exchange.importing import first_record
        return first_record(self._reader(), self.plan, found)

    def _refuse_taken_localparts(self, chunk):
        """An address once per domain: the chunk's, and against the
        domain's records written before."""
        domain = self._domain
        message = _("the address '%(value)s' is also in %(other)s")
        seen = {}
        for where, localpart, _record in chunk:
            if localpart in seen:
                raise InvalidImport(_key(where), message % {
                    'value': '%s@%s' % (localpart, domain.name),
                    'other': _key(seen[localpart])})
            seen[localpart] = where
        self.cur.execute(
            'SELECT local_part FROM users WHERE gid = %(g)s AND local_part '
            '= ANY(%(l)s) UNION ALL SELECT address FROM alias WHERE gid = '
            '%(g)s AND address = ANY(%(l)s) UNION ALL SELECT address FROM '
            'relocated WHERE gid = %(g)s AND address = ANY(%(l)s) LIMIT 1',
            {'g': domain.gid, 'l': list(seen)})
        row = self.cur.fetchone()
        if row is None:
            return
        other = self._first(lambda d, kind, value: d is domain and _same(
            value, row[0]))
        raise InvalidImport(_key(seen[row[0]]), message % {
            'value': '%s@%s' % (row[0], domain.name), 'other': _key(other)})

    def _refuse_taken_uids(self, accounts):
        message = _('the UID %(value)s is also used in %(other)s')
        seen = {}
        for account in accounts:
            if account.uid in seen:
                raise InvalidImport(_key(account.where, 'uid'), message % {
                    'value': account.uid,
                    'other': _key(seen[account.uid], 'uid')})
            seen[account.uid] = account.where
        self.cur.execute(
            "SELECT u.uid, u.gid, u.local_part || '@' || n.domainname "
            'FROM users u JOIN domain_name n ON n.gid = u.gid AND '
            'n.is_primary WHERE u.uid = ANY(%s) LIMIT 1', (list(seen),))
        row = self.cur.fetchone()
        if row is None:
            return
        uid, gid, owner = row
        where = _key(seen[uid], 'uid')
        if gid in self._gids:
            other = self._first(lambda d, kind, value: kind == 'accounts'
                                and value.get('uid') == uid)
            raise InvalidImport(where, message % {
                'value': uid, 'other': _key(other, 'uid')})
        from vmm.models.values import EmailAddress
        raise InvalidImport(where, _("the UID %(key)d is already the UID of "
                                     "the account '%(owner)s'")
                            % {'key': uid,
                               'owner': EmailAddress.display(owner)})

    def _write_accounts(self, accounts):
        self._refuse_taken_uids(accounts)
        ids, gid = self.ids, self._domain.gid
        written = insert_accounts(self.cur, [
            (a.localpart, a.password, a.name, a.uid, gid,
             ids.mailbox(*a.mailbox), ids.quota(a.quota),
             ids.services(a.services), ids.transport(a.transport), a.note)
            for a in accounts])
        if len(written) != len(accounts):
            # Taken by another transaction since the checks: they say by
            # which record, now that the rows are visible.
            self._refuse_taken_localparts(
                [(a.where, a.localpart, a) for a in accounts])
            self._refuse_taken_uids(accounts)
        if not self.dry_run:
            self._stage_homes(accounts)

    def _stage_homes(self, accounts):
        """Prepare what is missing of the homes, as useradd does (in place
        once the import has committed); what exists is left alone, so that
        a mail tree copied along keeps working.  An existing home without
        its mailbox gets one after the commit, as far as that works."""
        domain = self._domain
        for account in accounts:
            home = '%s/%d' % (domain.directory, account.uid)
            fmt, root = account.mailbox
            address = '%s@%s' % (account.localpart, domain.name)
            with located(account.where):
                if not os.path.lexists(home):
                    self.handler.stage_home(home, account.uid, domain.gid,
                                            fmt, root, address)
                elif not os.path.lexists(os.path.join(home, root)):
                    self.missing.append((home, account.uid, domain.gid, fmt,
                                         root, address))


def _key(where, key='local_part'):
    return '%s.%s' % (where, key)


def _same(value, localpart):
    """Whether the record *value* (checked before) has *localpart*."""
    from vmm.models.values import check_localpart
    try:
        return check_localpart(value['local_part']) == localpart
    except (VMMError, KeyError, TypeError):
        return False


_FINAL_ALIASES_SQL = """
    SELECT s.address FROM unnest(%s::text[]) s(address)
     WHERE EXISTS (SELECT 1 FROM alias a JOIN domain_name n ON n.gid = a.gid
                    WHERE n.domainname = split_part(s.address, '@', 2)
                      AND a.address = split_part(s.address, '@', 1))
       AND NOT EXISTS (
           SELECT 1 FROM alias a JOIN domain_name n ON n.gid = a.gid
            WHERE n.domainname = split_part(s.address, '@', 2)
              AND a.address = split_part(s.address, '@', 1)
              AND (strpos(a.destination, '%%') > 0 OR EXISTS (
                   SELECT 1 FROM domain_name d,
                          split_part(a.destination, '@', 1) AS l(part)
                    WHERE d.domainname = split_part(a.destination, '@', 2)
                      AND (EXISTS (SELECT 1 FROM alias b
                                    WHERE b.gid = d.gid
                                      AND b.address = l.part)
                           OR EXISTS (SELECT 1 FROM catchall c
                                       WHERE c.gid = d.gid)
                              AND NOT EXISTS (
                                  SELECT 1 FROM users u
                                   WHERE u.gid = d.gid
                                     AND u.local_part = l.part)
                              AND NOT EXISTS (
                                  SELECT 1 FROM relocated r
                                   WHERE r.gid = d.gid
                                     AND r.address = l.part)))))
"""


def _loop_starts(cur, starts):
    """*starts* without the aliases whose every destination is final (no
    placeholder, and not an alias nor caught by a catch-all here): mail
    cannot loop through them, and whatever leads to them is a start of its
    own.  Spares two lookups per alias of a large import."""
    cur.execute(_FINAL_ALIASES_SQL, (list(starts),))
    final = {row[0] for row in cur.fetchall()}
    return [start for start in starts if start not in final]


def _make_mailboxes(handler, missing):
    from vmm import mailbox
    cfg = handler.config
    problems = []
    for home, uid, gid, fmt, root, address in missing:
        try:
            mailbox.create_mailbox(
                home, uid, gid, cfg['account.directory_mode'], fmt, root,
                cfg['mailbox.folders'], cfg['mailbox.subscribe'], address,
                doveadm=cfg['bin.doveadm'])
        except (VMMError, OSError) as err:
            problems.append(str(err))
    shown = 10
    for problem in problems[:shown]:
        handler.warnings.append(_('Imported, but: %s') % problem)
    if len(problems) > shown:
        more = len(problems) - shown
        handler.warnings.append(ngettext('… and %d more directory problem',
                                         '… and %d more directory problems',
                                         more) % more)
