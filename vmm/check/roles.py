"""``vmm check``'s role lines: each lookup role Postfix and Dovecot log
in as may read what its lookups need and nothing more."""


from vmm.check.base import FAIL, OK, WARNING
from vmm.i18n import _


def check_roles(run):
    if not run.db_ok:
        run.add(WARNING, 'roles', _('not checked: no usable vmm '
                                    'database'))
        return
    postfix = run.postfix_roles or {'postfix': None}
    dovecot = run.dovecot_roles or {'dovecot': None}
    for role, source in sorted(postfix.items()):
        run.query('role:' + role, lambda role=role, source=source:
                  _check_role(run, role, source, 'postfix'))
    for role, source in sorted(dovecot.items()):
        if role in postfix:
            continue        # one role for both: checked as Postfix's
        run.query('role:' + role, lambda role=role, source=source:
                  _check_role(run, role, source, 'dovecot'))


def _relations(run, role, privilege):
    run.cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
        "AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND "
        + ("has_any_column_privilege(%s, c.oid, 'SELECT')"
           if privilege == 'SELECT' else
           "has_table_privilege(%s, c.oid, "
           "'INSERT,UPDATE,DELETE,TRUNCATE')")
        + ' ORDER BY 1', (role,))
    return [row[0] for row in run.cur.fetchall()]


def _lookup_functions(run, client):
    """The lookup functions of *client* (postfix or dovecot), as the
    schema's view vmm_lookup_function names them."""
    run.cur.execute('SELECT function::text FROM vmm_lookup_function '
                     'WHERE client = %s ORDER BY 1', (client,))
    return [row[0] for row in run.cur.fetchall()]


def _may_execute(run, role, function):
    run.cur.execute("SELECT has_function_privilege(%s, p::oid, "
                     "'EXECUTE') FROM to_regprocedure(%s) p",
                     (role, function))
    return bool(run.cur.fetchone()[0])


def _check_role(run, role, source, kind):
    name = 'role:' + role
    named = _(' (user in %s)') % source if source else ''
    run.cur.execute('SELECT rolsuper FROM pg_roles WHERE rolname = %s',
                     (role,))
    row = run.cur.fetchone()
    if row is None:
        run.add(FAIL if source else WARNING, name,
                _('the %(kind)s role %(role)s%(named)s does not exist in '
                  'the database: create it (INSTALL, step 3)')
                % {'kind': kind.capitalize(), 'role': role,
                   'named': named})
        return
    fix = _('run set-permissions.sql with -v %(kind)s=%(role)s '
            '(INSTALL, step 5)') % {'kind': kind, 'role': role}
    problems, notes = [], []
    if row[0]:
        problems.append(_('it is a superuser and can read everything'))
    readable = _relations(run, role, 'SELECT')
    writable = _relations(run, role, 'WRITE')
    if kind == 'postfix':
        extra = [r for r in readable if r != 'postfix_gid']
        if 'users' in extra:
            problems.append(_('it can read the users table, password '
                              'hashes included'))
        others = [r for r in extra if r != 'users']
        if others:
            problems.append(_('it can read %s, which Postfix does not '
                              'look up') % ', '.join(others))
        if writable:
            problems.append(_('it can change %s') % ', '.join(writable))
        if _may_execute(run, role, 'dovecotpassword(varchar,varchar)'):
            problems.append(_('it can call dovecotpassword(), which '
                              'returns password hashes'))
        missing = [function.split('(')[0] for function in
                   _lookup_functions(run, 'postfix')
                   if not _may_execute(run, role, function)]
        if 'postfix_gid' not in readable:
            missing.append('postfix_gid')
    else:
        run.cur.execute(
            "SELECT has_column_privilege(%s, 'users', 'passwd', "
            "'SELECT')", (role,))
        if run.cur.fetchone()[0]:
            problems.append(_('it can read users.passwd directly (only '
                              'dovecotpassword() should see hashes)'))
        if 'vmm_log' in readable:
            problems.append(_('it can read the audit log vmm_log'))
        others = [r for r in readable if r not in (
            'users', 'domain_data', 'domain_name', 'userquota',
            'vmm_log')]
        if others:
            notes.append(_('it can read %s, which the shipped Dovecot '
                           'queries do not need') % ', '.join(others))
        changed = [r for r in writable if r != 'userquota']
        if changed:
            problems.append(_('it can change %s') % ', '.join(changed))
        missing = [f for f in ('dovecotpassword',)
                   if not _may_execute(run, role, f + '(varchar,varchar)')]
        if not (_may_execute(run, role, 'dovecotuser(varchar,varchar)') or
                _may_execute(run, role,
                                  'dovecotquotauser(varchar,varchar)')):
            missing.append('dovecotquotauser')
    if missing:
        problems.append(_('it lacks access to %s, which its lookups '
                          'need') % ', '.join(missing))
    if problems:
        run.add(FAIL, name, _('the %(kind)s role %(role)s%(named)s: '
                              '%(problems)s; %(fix)s')
                % {'kind': kind.capitalize(), 'role': role,
                   'named': named, 'problems': '; '.join(problems),
                   'fix': fix})
    elif notes:
        run.add(WARNING, name, _('the %(kind)s role %(role)s%(named)s: '
                                 '%(notes)s')
                % {'kind': kind.capitalize(), 'role': role,
                   'named': named, 'notes': '; '.join(notes)})
    else:
        run.add(OK, name, _('the %(kind)s role %(role)s%(named)s reads '
                            'only what its lookups need')
                % {'kind': kind.capitalize(), 'role': role,
                   'named': named})
