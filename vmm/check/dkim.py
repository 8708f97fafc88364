"""``vmm check``'s DKIM lines: the OpenDKIM role reads the views of its
KeyTable and SigningTable and nothing else, and DNS publishes the record
of every active key under every name of its domain.

Each function takes the read-only cursor of ``vmm check`` and returns
(status, name, detail) triples; nothing is changed.
"""

from vmm import dkim
from vmm.i18n import _

OK, WARNING, FAIL = 'ok', 'warning', 'FAIL'

#: What OpenDKIM reads (pgsql/dkim.sql): a role that may read one of
#: them is an OpenDKIM role.
OPENDKIM_VIEWS = ('opendkim_key_table', 'opendkim_signing_table',
                  'opendkim_ed25519_key_table',
                  'opendkim_ed25519_signing_table')


def _opendkim_roles(cur):
    """The roles, other than the schema's owner and superusers, that may
    read one of the OpenDKIM views."""
    cur.execute(
        'SELECT DISTINCT r.rolname FROM pg_roles r, pg_class c '
        'WHERE c.relname = ANY(%s) AND c.relkind = \'v\' '
        'AND r.oid <> c.relowner AND NOT r.rolsuper '
        "AND r.rolname NOT LIKE 'pg\\_%%' "
        "AND has_table_privilege(r.oid, c.oid, 'SELECT') ORDER BY 1",
        (list(OPENDKIM_VIEWS),))
    return [row[0] for row in cur.fetchall()]


def _role_problems(cur, role):
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
        "AND c.relkind IN ('r', 'v', 'm', 'p', 'f') "
        "AND has_any_column_privilege(%s, c.oid, 'SELECT') ORDER BY 1",
        (role,))
    readable = [row[0] for row in cur.fetchall()]
    cur.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
        "AND p.prosecdef AND has_function_privilege(%s, p.oid, 'EXECUTE') "
        'ORDER BY 1', (role,))
    functions = [row[0].split('(')[0] for row in cur.fetchall()]
    problems = []
    if 'users' in readable or 'dovecotpassword' in functions:
        problems.append(_('it can read password hashes'))
    others = [name for name in readable
              if name not in OPENDKIM_VIEWS and name != 'users']
    if others:
        problems.append(_('it can read %s, which OpenDKIM does not look up')
                        % ', '.join(others))
    functions = [name for name in functions if name != 'dovecotpassword']
    if functions:
        problems.append(_('it can call %s') % ', '.join(functions))
    missing = [name for name in OPENDKIM_VIEWS if name not in readable]
    if missing:
        problems.append(_('it cannot read %s') % ', '.join(missing))
    return problems


def role_results(cur):
    """One line per OpenDKIM role; a warning when active keys exist but
    no role may read them."""
    roles = _opendkim_roles(cur)
    if not roles:
        cur.execute("SELECT count(*) FROM dkim_key WHERE state = 'active'")
        if cur.fetchone()[0]:
            return [(WARNING, 'role:opendkim',
                     _('no role may read the OpenDKIM views, so nothing '
                       'signs with the active DKIM keys: run '
                       'set-permissions.sql with -v opendkim=ROLE (INSTALL, '
                       'DKIM signing)'))]
        return []
    results = []
    for role in roles:
        problems = _role_problems(cur, role)
        if problems:
            results.append((FAIL, 'role:' + role, _(
                'the OpenDKIM role %(role)s: %(problems)s; run '
                'set-permissions.sql with -v opendkim=%(role)s')
                % {'role': role, 'problems': '; '.join(problems)}))
        else:
            results.append((OK, 'role:' + role, _(
                'the OpenDKIM role %s reads only the OpenDKIM views')
                % role))
    return results


def dns_results(cur, nameserver=None):
    """One line per domain with an active key: whether DNS publishes its
    record under every name of the domain."""
    from vmm.errors import VMMError
    from vmm.models import dkim as keys_table
    results = []
    for domain, gid, selector, algorithm, public in \
            keys_table.active_keys(cur):
        names = [dkim.record_name(selector, name)
                 for name in keys_table.names(cur, gid)]
        try:
            missing = [name for name in names if not dkim.is_published(
                name, algorithm, public, nameserver)]
        except VMMError as err:
            results.append((WARNING, 'dkim:' + domain, err.msg))
            continue
        if missing:
            results.append((FAIL, 'dkim:' + domain, _(
                'DNS does not publish the TXT record of the active key '
                '%(selector)s (or it differs): %(names)s; publish it as '
                'dkiminfo shows') % {'selector': selector,
                                     'names': ', '.join(missing)}))
        else:
            results.append((OK, 'dkim:' + domain, _(
                'DNS publishes the active key %(selector)s: %(names)s')
                % {'selector': selector, 'names': ', '.join(names)}))
    return results
