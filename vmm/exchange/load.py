"""Writing a checked JSON document: domains, accounts, aliases, relocated
users and relay domains in bulk, and their directories staged."""

import os

from vmm.errors import VMMError
from vmm.exchange import COUNT_KEYS, at, located
from vmm.exchange.document import check_against_database, check_document
from vmm.i18n import _, ngettext


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


def import_json(handler, document, dry_run):
    from psycopg2.extras import execute_values

    from vmm.models import loops
    plan = check_document(handler, document)
    cur = handler.cur
    _lock_names(cur)
    check_against_database(cur, plan)
    ids = _Ids(cur)
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for domain in plan.domains:
        gid = domain.gid
        cur.execute(
            'INSERT INTO domain_data (gid, qid, ssid, tid, domaindir, note, '
            'max_accounts, max_aliases, max_alias_domains) '
            'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)',
            (gid, ids.quota(domain.quota), ids.services(domain.services),
             ids.transport(domain.transport), domain.directory,
             domain.note) + domain.limits)
        execute_values(cur, 'INSERT INTO domain_name (domainname, gid, '
                       'is_primary) VALUES %s',
                       [(domain.name, gid, True)] +
                       [(name, gid, False) for name in domain.alias_names])
        execute_values(cur, 'INSERT INTO users (local_part, passwd, name, '
                       'uid, gid, mid, qid, ssid, tid, note) VALUES %s',
                       ((a.localpart, a.password, a.name, a.uid, gid,
                         ids.mailbox(*a.mailbox), ids.quota(a.quota),
                         ids.services(a.services), ids.transport(a.transport),
                         a.note) for a in domain.accounts), page_size=1000)
        execute_values(cur, 'INSERT INTO alias (gid, address, destination) '
                       'VALUES %s', ((gid, localpart, destination)
                                     for localpart, destinations in
                                     domain.aliases
                                     for destination in destinations),
                       page_size=1000)
        execute_values(cur, 'INSERT INTO catchall (gid, destination) '
                       'VALUES %s', [(gid, d) for d in domain.catchall])
        execute_values(cur, 'INSERT INTO relocated (gid, address, '
                       'destination) VALUES %s',
                       [(gid, localpart, destination)
                        for localpart, destination in domain.relocated],
                       page_size=1000)
        counts['domains'] += 1
        counts['alias_domains'] += len(domain.alias_names)
        counts['accounts'] += len(domain.accounts)
        counts['aliases'] += len(domain.aliases)
        counts['catchall'] += len(domain.catchall)
        counts['relocated'] += len(domain.relocated)
        handler.log(_('domain %(domain)s imported (accounts: '
                      '%(accounts)d, aliases: %(aliases)d, relocated users: '
                      '%(relocated)d, alias domains: %(alias_domains)d)')
                    % {'domain': domain.name,
                       'accounts': len(domain.accounts),
                       'aliases': len(domain.aliases),
                       'relocated': len(domain.relocated),
                       'alias_domains': len(domain.alias_names)},
                    domain.name, *domain.alias_names)
    for relay in plan.relays:
        cur.execute('INSERT INTO relay_domain (domainname, tid, note) '
                    'VALUES (%s, %s, %s)',
                    (relay.name, ids.transport(relay.transport), relay.note))
        execute_values(cur, 'INSERT INTO relay_recipient (domainname, '
                       'local_part) VALUES %s',
                       [(relay.name, r) for r in relay.recipients])
        counts['relay_domains'] += 1
        handler.log(_('relay domain %s imported') % relay.name, relay.name)
    for domain in plan.domains:
        if domain.aliases or domain.catchall or domain.alias_names:
            with at(domain.where):
                handler.check_alias_loops(_loop_starts(
                    cur, loops.starts_for_domain(cur, domain.gid)))
    if not dry_run:
        _advance_sequence(cur, 'domain_gid', 'domain_data', 'gid')
        _advance_sequence(cur, 'users_uid', 'users', 'uid')
        _stage_directories(handler, plan)
    return counts


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


def _stage_directories(handler, plan):
    """Prepare what is missing of the domain directories and homes, as
    domainadd and useradd do (in place once the import has committed);
    what exists is left alone, so that a mail tree copied along keeps
    working.  An existing home without its mailbox gets one after the
    commit, as far as that works."""
    cfg = handler.config
    missing = []
    for domain in plan.domains:
        with located(domain.where):
            if not os.path.lexists(domain.directory):
                handler.staging.build_domain(domain.directory, domain.gid,
                                             cfg['domain.directory_mode'])
        for account in domain.accounts:
            home = '%s/%d' % (domain.directory, account.uid)
            fmt, root = account.mailbox
            address = '%s@%s' % (account.localpart, domain.name)
            with located(account.where):
                if not os.path.lexists(home):
                    handler.stage_home(home, account.uid, domain.gid, fmt,
                                       root, address)
                elif not os.path.lexists(os.path.join(home, root)):
                    missing.append((home, account.uid, domain.gid, fmt, root,
                                    address))
    if missing:
        handler.after_commit(lambda: _make_mailboxes(handler, missing))


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
