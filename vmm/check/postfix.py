"""``vmm check``'s Postfix part: every map vmm serves is asked through
``postmap -q`` for real keys and for keys that must not be found, and the
answers compared with vmm's own lookup functions."""

import collections
import os
import re

from vmm.check.base import FAIL, OK, TIMEOUT, WARNING
from vmm.check.programs import (
    Outcome,
    executable,
    find_program,
    parse_postfix_cf,
    run_program,
)
from vmm.i18n import _, ngettext

#: How many real objects of each kind are tried through the Postfix maps.
SAMPLE = 5

#: A local part and a domain that are (almost certainly) not in vmm.
MISSING_LOCALPART = 'vmm-check-no-such-user'
MISSING_DOMAIN = 'vmm-check.invalid'


# -- the Postfix maps vmm serves --------------------------------------------

#: parameter, keys (domain names or addresses), how to compute the expected
#: answer with vmm's own connection, whether only found/not found matters
#: (Postfix ignores the value of domain lists and relay_recipient_maps),
#: and what vmm's map file mentions in its query.
PostfixMap = collections.namedtuple('PostfixMap',
                                    'parameter keys sql presence marker')

_FUNCTION = 'SELECT %s FROM %s(%%(local)s, %%(domain)s)'
POSTFIX_MAPS = (
    PostfixMap('virtual_mailbox_domains', 'domain',
               'SELECT gid FROM postfix_gid WHERE domainname = %(key)s',
               True, 'postfix_gid'),
    PostfixMap('virtual_mailbox_maps', 'address',
               _FUNCTION % ('maildir', 'postfix_virtual_mailbox_map'),
               False, 'postfix_virtual_mailbox_map'),
    PostfixMap('virtual_alias_maps', 'address',
               _FUNCTION % ('destination', 'postfix_virtual_alias_map'),
               False, 'postfix_virtual_alias_map'),
    PostfixMap('virtual_uid_maps', 'address',
               _FUNCTION % ('uid', 'postfix_virtual_uid_map'),
               False, 'postfix_virtual_uid_map'),
    PostfixMap('virtual_gid_maps', 'address',
               'SELECT gid FROM postfix_gid WHERE domainname = %(domain)s',
               False, 'postfix_gid'),
    PostfixMap('transport_maps', 'address',
               _FUNCTION % ('transport', 'postfix_transport_map'),
               False, 'postfix_transport_map'),
    PostfixMap('relocated_maps', 'address',
               _FUNCTION % ('destination', 'postfix_relocated_map'),
               False, 'postfix_relocated_map'),
    PostfixMap('smtpd_sender_login_maps', 'address',
               _FUNCTION % ('login', 'postfix_smtpd_sender_login_map'),
               False, 'postfix_smtpd_sender_login_map'),
    PostfixMap('relay_domains', 'domain',
               'SELECT status FROM postfix_relay_domain_map(%(key)s)',
               True, 'postfix_relay_domain_map'),
    PostfixMap('relay_recipient_maps', 'address',
               _FUNCTION % ('status', 'postfix_relay_recipient_map'),
               True, 'postfix_relay_recipient_map'),
)
RELAY_PARAMETERS = ('relay_domains', 'relay_recipient_maps')

def pgsql_tables(value):
    """The files of the ``pgsql:`` tables in a parameter's value (a
    ``proxy:`` in front is dropped: postmap asks the table itself)."""
    files = []
    for item in re.split(r'[\s,]+', value or ''):
        while item.startswith('proxy:'):
            item = item[len('proxy:'):]
        if item.startswith('pgsql:') and len(item) > len('pgsql:'):
            files.append(item[len('pgsql:'):])
    return files


def sample_keys(cur):
    """Real and missing keys to try, chosen by a few cheap queries:
    (domain names, addresses)."""
    def column(sql, params=None):
        cur.execute(sql, params)
        return [row[0] for row in cur.fetchall()]

    def add(target, values):
        for value in values:
            if value not in target and not re.search(r'\s', value):
                target.append(value)

    addresses, domains = [], []
    primary = '(SELECT %s, gid FROM %s LIMIT %d) s JOIN domain_name n ' \
              'ON n.gid = s.gid AND n.is_primary'
    add(addresses, column("SELECT s.local_part || '@' || n.domainname FROM "
                          + primary % ('local_part', 'users', SAMPLE)))
    add(addresses, column(
        "SELECT DISTINCT s.address || '@' || n.domainname FROM "
        + primary % ('address', 'alias', SAMPLE * 10) + ' LIMIT %d' % SAMPLE))
    add(addresses, column("SELECT s.address || '@' || n.domainname FROM "
                          + primary % ('address', 'relocated', SAMPLE)))
    # Alias domains: an account, an alias, a relocated user and a missing
    # local part under each of a few.
    cur.execute('SELECT domainname, gid FROM domain_name WHERE NOT '
                'is_primary ORDER BY domainname LIMIT %s', (SAMPLE,))
    alias_domains = cur.fetchall()
    for name, gid in alias_domains:
        for table, column_name in (('users', 'local_part'),
                                   ('alias', 'address'),
                                   ('relocated', 'address')):
            add(addresses, ['%s@%s' % (local, name) for local in column(
                'SELECT %s FROM %s WHERE gid = %%s LIMIT 1'
                % (column_name, table), (gid,))])
    # Missing local parts: in domains with a catch-all first, then others.
    with_catchall = column(
        'SELECT n.domainname FROM (SELECT DISTINCT gid FROM catchall LIMIT '
        '%s) c JOIN domain_name n ON n.gid = c.gid AND n.is_primary',
        (SAMPLE,))
    primaries = column('SELECT domainname FROM domain_name WHERE is_primary '
                       'ORDER BY domainname LIMIT %s', (SAMPLE,))
    relays = column('SELECT domainname FROM relay_domain ORDER BY domainname '
                    'LIMIT %s', (SAMPLE,))
    add(addresses, column("SELECT local_part || '@' || domainname FROM "
                          'relay_recipient LIMIT %s', (SAMPLE,)))
    names = (with_catchall + primaries)[:SAMPLE] + \
        [name for name, _gid in alias_domains] + relays
    add(addresses, ['%s@%s' % (MISSING_LOCALPART, name) for name in names])
    add(addresses, ['%s@%s' % (MISSING_LOCALPART, MISSING_DOMAIN)])
    add(domains, primaries + [name for name, _gid in alias_domains] + relays
        + [MISSING_DOMAIN])
    return domains, addresses


def expected_answers(cur, pmap, keys):
    """key → sorted list of values vmm's lookup interface answers (empty
    when not found)."""
    answers = {}
    for key in keys:
        local, _sep, domain = key.rpartition('@')
        cur.execute(pmap.sql, {'key': key, 'local': local, 'domain': domain})
        # Postfix joins the rows with commas
        answers[key] = sorted(value for row in cur.fetchall()
                              for value in str(row[0]).split(','))
    return answers


def postmap_answers(postmap, config_dir, path, keys):
    """key → sorted list of values ``postmap -q -`` answers, or an
    Outcome saying why postmap failed."""
    outcome = run_program([postmap, '-c', config_dir, '-q', '-',
                           'pgsql:' + path],
                          input=''.join(key + '\n' for key in keys))
    if outcome.problem or outcome.returncode not in (0, 1) or \
            'fatal:' in outcome.stderr:
        if not outcome.problem and outcome.returncode == 0:
            outcome.returncode = 1
        return outcome
    answers = {key: [] for key in keys}
    for line in outcome.stdout.splitlines():
        key, sep, value = line.partition('\t')
        if not sep:
            key, sep, value = line.partition(' ')
        answers[key.strip().lower()] = sorted(value.strip().split(','))
    return answers


def _shown(values):
    return ','.join(values) if values else _('(not found)')


def check_postfix(run):
    postconf = run.config['bin.postconf']
    if not executable(postconf):
        run.add(WARNING, 'postfix',
                _("Postfix is not installed here ('%s' (bin.postconf) "
                  'not found): Postfix checks skipped; install Postfix '
                  'or set bin.postconf') % postconf)
        return
    postmap = find_program('postmap', os.path.join(
        os.path.dirname(postconf), 'postmap'))
    directory = run.postfix_dir
    if directory is None:
        out = run_program([postconf, '-h', 'config_directory'])
        directory = out.stdout.strip() if out.ok else ''
        if not directory:
            run.add(FAIL, 'postfix', _('`%(cmd)s` failed: %(error)s')
                    % {'cmd': postconf + ' -h config_directory',
                       'error': out.message()})
            return
    modules = run_program([postconf, '-c', directory, '-m'])
    if not modules.ok:
        run.add(FAIL, 'postfix', _('`postconf -c %(dir)s -m` failed: '
                                   '%(error)s')
                % {'dir': directory, 'error': modules.message()})
        return
    if 'pgsql' not in modules.stdout.split():
        run.add(FAIL, 'postfix',
                _('Postfix has no pgsql support (`postconf -m` does not '
                  'list it): install it (Debian: postfix-pgsql)'))
        pgsql = False
    else:
        run.add(OK, 'postfix', _('pgsql support (postconf -m); '
                                 'configuration in %s') % directory)
        pgsql = True
    if postmap is None:
        run.add(FAIL, 'postfix:postmap', _("'postmap' not found next "
                                           "to %s") % postconf)
        return
    settings = run_program([postconf, '-c', directory, '-n', '-x'])
    if not settings.ok:
        run.add(FAIL, 'postfix:main.cf', _('`postconf -c %(dir)s -n -x`'
                                           ' failed: %(error)s')
                % {'dir': directory, 'error': settings.message()})
        return
    values = {}
    for line in settings.stdout.splitlines():
        name, sep, value = line.partition('=')
        if sep:
            values[name.strip()] = value.strip()
    _check_maps(run, postmap, directory, values, pgsql)


def _relay_domain_count(run):
    """How many relay domains vmm has; None when unknown."""
    if not run.db_ok:
        return None

    def work():
        run.cur.execute('SELECT count(*) FROM relay_domain')
        return run.cur.fetchone()[0]
    return run.query('postfix:sample', work)


def _check_maps(run, postmap, directory, values, pgsql):
    main_cf = os.path.join(directory, 'main.cf')
    relays = _relay_domain_count(run)
    keys = None
    if run.db_ok:
        keys = run.query('postfix:sample',
                         lambda: sample_keys(run.cur))
    jobs = []       # (map, file, keys, expected)
    for pmap in POSTFIX_MAPS:
        name = 'postfix:' + pmap.parameter
        value = values.get(pmap.parameter)
        optional = pmap.parameter in RELAY_PARAMETERS and not relays
        if value is None:
            if optional and relays == 0:
                run.add(OK, name, _('not set in %s; vmm has no relay '
                                    'domains') % main_cf)
            elif optional:
                run.add(WARNING, name, _('not set in %s; needed once vmm '
                                         'has relay domains') % main_cf)
            else:
                # Postfix's virtual(8) reads the uid and gid maps
                # itself; main.cf.example names them without proxy:.
                table = 'pgsql:' if pmap.parameter in (
                    'virtual_uid_maps', 'virtual_gid_maps') \
                    else 'proxy:pgsql:'
                run.add(FAIL, name,
                        _('%(param)s is not set in %(file)s: set it as '
                          'in main.cf.example (%(param)s = '
                          '%(table)s${config_directory}/pgsql-'
                          '%(param)s.cf)')
                        % {'param': pmap.parameter, 'file': main_cf,
                           'table': table})
            continue
        files = pgsql_tables(value)
        if not files:
            run.add(WARNING if optional else FAIL, name,
                    _("%(param)s in %(file)s names no pgsql: table "
                      "(it is '%(value)s'): set it as in "
                      'main.cf.example')
                    % {'param': pmap.parameter, 'file': main_cf,
                       'value': value})
            continue
        texts, problem = {}, None
        for path in files:
            try:
                with open(path, encoding='utf-8',
                          errors='replace') as handle:
                    texts[path] = handle.read()
            except PermissionError as err:
                if os.geteuid() != 0:
                    problem = (WARNING, _(
                        '%(file)s (named by %(param)s) is not readable '
                        'for this user: run `vmm check` as root')
                        % {'file': path, 'param': pmap.parameter})
                else:
                    problem = (FAIL, _(
                        "%(file)s (named by %(param)s) cannot be read: "
                        '%(error)s') % {'file': path,
                                        'param': pmap.parameter,
                                        'error': err.strerror})
                break
            except OSError as err:
                problem = (FAIL, _("%(file)s (named by %(param)s) cannot "
                                   'be read: %(error)s')
                           % {'file': path, 'param': pmap.parameter,
                              'error': err.strerror})
                break
        if problem:
            run.add(problem[0], name, problem[1])
            continue
        # More than one pgsql table: vmm's is the one that asks vmm's
        # lookup interface.
        chosen = [p for p in files if pmap.marker in texts[p]] or files
        for path in chosen:
            user = parse_postfix_cf(texts[path]).get('user')
            if user:
                run.postfix_roles.setdefault(user, path)
        if not pgsql:
            run.add(WARNING, name, _('%(file)s not compared with vmm: '
                                     'Postfix has no pgsql support')
                    % {'file': chosen[0]})
            continue
        if keys is None:
            run.add(WARNING, name,
                    _('%(file)s not compared with vmm: no usable vmm '
                      'database') % {'file': chosen[0]})
            continue
        domains, addresses = keys
        wanted = domains if pmap.keys == 'domain' else addresses
        expected = run.query(name, lambda pmap=pmap, wanted=wanted:
                             expected_answers(run.cur, pmap, wanted))
        if expected is None:
            continue
        for path in chosen:
            jobs.append((pmap, path, wanted, expected))
    _run_postmaps(run, postmap, directory, jobs)


def _run_postmaps(run, postmap, directory, jobs):
    """Ask every map file at once (each postmap has its own timeout, so
    several dead hosts still cost one timeout in all)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = [pool.submit(postmap_answers, postmap, directory, path,
                               wanted)
                   for _pmap, path, wanted, _expected in jobs]
        answers = [future.result() for future in futures]
    for (pmap, path, wanted, expected), got in zip(jobs, answers):
        _compare(run, pmap, path, wanted, expected, got)


def _compare(run, pmap, path, wanted, expected, got):
    name = 'postfix:' + pmap.parameter
    if isinstance(got, Outcome) and got.timed_out:
        with open(path, encoding='utf-8', errors='replace') as handle:
            hosts = parse_postfix_cf(handle.read()).get('hosts', '')
        run.add(FAIL, name,
                ngettext('%(file)s (%(param)s): `postmap -q` got no '
                         'answer within %(s)d second: is the database '
                         'server of hosts = %(hosts)s in %(file)s up '
                         'and reachable?',
                         '%(file)s (%(param)s): `postmap -q` got no '
                         'answer within %(s)d seconds: is the database '
                         'server of hosts = %(hosts)s in %(file)s up '
                         'and reachable?', TIMEOUT)
                % {'file': path, 'param': pmap.parameter, 's': TIMEOUT,
                   'hosts': hosts or 'localhost'})
        return
    if isinstance(got, Outcome):
        run.add(FAIL, name,
                _('%(file)s (%(param)s): `postmap -q` failed: %(error)s;'
                  ' check hosts, user, password, dbname and query in '
                  '%(file)s') % {'file': path, 'param': pmap.parameter,
                                 'error': got.message()})
        return
    wrong = []
    for key in wanted:
        want, have = expected[key], got.get(key, [])
        if (bool(want) != bool(have)) if pmap.presence else \
                (want != have):
            wrong.append(key)
    if wrong:
        key = wrong[0]
        run.add(FAIL, name,
                ngettext("%(file)s (%(param)s): for %(count)d of "
                         "%(total)d key Postfix's answer differs from "
                         "vmm's lookup functions, e.g. `postmap -q "
                         "%(key)s` gives '%(got)s', vmm '%(want)s'; "
                         'check dbname and query in %(file)s (see '
                         'pgsql/postfix/pgsql-%(param)s.cf)',
                         "%(file)s (%(param)s): for %(count)d of "
                         "%(total)d keys Postfix's answer differs from "
                         "vmm's lookup functions, e.g. `postmap -q "
                         "%(key)s` gives '%(got)s', vmm '%(want)s'; "
                         'check dbname and query in %(file)s (see '
                         'pgsql/postfix/pgsql-%(param)s.cf)',
                         len(wanted))
                % {'file': path, 'param': pmap.parameter,
                   'count': len(wrong), 'total': len(wanted),
                   'key': key, 'got': _shown(got.get(key, [])),
                   'want': _shown(expected[key])})
        return
    found = sum(1 for key in wanted if expected[key])
    run.add(OK, name, ngettext(
       '%(file)s gives the same answer as vmm for the %(total)d sample '
       'key tried (%(found)d of them exist in vmm; for the others both '
       'answer nothing)',
       '%(file)s gives the same answers as vmm for all %(total)d sample '
       'keys tried (%(found)d of them exist in vmm; for the others both '
       'answer nothing)', len(wanted))
       % {'file': path, 'total': len(wanted), 'found': found})
