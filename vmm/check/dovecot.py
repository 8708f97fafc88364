"""``vmm check``'s Dovecot part: the SQL passdb and userdb files are read
through ``doveconf``, and ``doveadm auth test``/``user`` asked for an
account."""

import os
import re

from vmm.check.base import FAIL, OK, WARNING
from vmm.check.programs import (
    executable,
    find_program,
    parse_connect,
    parse_doveconf_sections,
    parse_dovecot_ext,
    run_program,
)
from vmm.i18n import _

DEFAULT_DOVECOT_CONFIG = '/etc/dovecot/dovecot.conf'


def check_dovecot(run):
    doveadm = run.config['bin.doveadm']
    bindir = os.path.dirname(doveadm)
    dovecot = find_program(
        'dovecot', os.path.join(bindir, 'dovecot'),
        os.path.join(os.path.dirname(bindir), 'sbin', 'dovecot'),
        '/usr/sbin/dovecot', '/usr/local/sbin/dovecot')
    doveconf = find_program('doveconf', os.path.join(bindir, 'doveconf'))
    if not executable(doveadm) or dovecot is None or doveconf is None:
        missing = doveadm if not executable(doveadm) else \
            'dovecot' if dovecot is None else 'doveconf'
        run.add(WARNING, 'dovecot',
                _("Dovecot is not installed here ('%s' not found): "
                  'Dovecot checks skipped; install Dovecot or set '
                  'bin.doveadm') % missing)
        return
    config_file = run.dovecot_config or \
        run.config['misc.dovecot_config'] or DEFAULT_DOVECOT_CONFIG
    _check_dovecot_driver(run, dovecot, doveconf, config_file)
    if not os.path.isfile(config_file):
        run.add(WARNING, 'dovecot:password_query',
                _("no Dovecot configuration '%s': Dovecot checks "
                  'skipped (give --dovecot-config)') % config_file)
        return
    _check_passdb(run, doveconf, config_file)
    if run.user is not None:
        _check_user(run, doveadm, config_file)


def _check_dovecot_driver(run, dovecot, doveconf, config_file):
    out = run_program([dovecot, '--build-options'])
    if not out.ok:
        run.add(FAIL, 'dovecot', _('`dovecot --build-options` failed: '
                                   '%s') % out.message())
        return
    line = next((line for line in out.stdout.splitlines()
                 if line.startswith('SQL driver')), '')
    drivers = line.partition(':')[2].split()
    if 'postgresql' not in drivers and 'pgsql' not in drivers:
        run.add(FAIL, 'dovecot',
                _('Dovecot has no PostgreSQL driver (`dovecot '
                  '--build-options`: %s): install it (Debian: '
                  'dovecot-pgsql)') % (line or _('no SQL drivers')))
        return
    if line.startswith('SQL driver plugins'):
        args = [doveconf, '-h', 'mail_plugin_dir']
        if os.path.isfile(config_file):
            args[1:1] = ['-c', config_file]
        out = run_program(args)
        plugin_dir = out.stdout.strip() if out.ok else ''
        plugin = os.path.join(plugin_dir, 'libdriver_pgsql.so')
        if plugin_dir and os.path.isdir(plugin_dir) and \
                not os.path.exists(plugin):
            run.add(FAIL, 'dovecot',
                    _("Dovecot's PostgreSQL driver plugin %s is missing:"
                      ' install it (Debian: dovecot-pgsql)') % plugin)
            return
    run.add(OK, 'dovecot', _('PostgreSQL driver (dovecot '
                             '--build-options)'))


def _sql_files(run, doveconf, config_file, section):
    """(args file, settings) of the enabled sql *section*s
    (passdb/userdb), or a FAIL detail."""
    out = run_program([doveconf, '-c', config_file, section])
    if not out.ok:
        return _('`doveconf -c %(file)s %(section)s` failed: %(error)s') \
            % {'file': config_file, 'section': section,
               'error': out.message()}
    found = []
    for block in parse_doveconf_sections(out.stdout, section):
        if block.get('driver') != 'sql' or block.get('deny') == 'yes':
            continue
        path = block.get('args', '')
        try:
            with open(path, encoding='utf-8', errors='replace') as handle:
                found.append((path, parse_dovecot_ext(handle.read())))
        except OSError as err:
            return _("the %(section)s file '%(file)s' cannot be read: "
                     '%(error)s') % {'section': section, 'file': path,
                                     'error': err.strerror}
    return found


def _check_passdb(run, doveconf, config_file):
    name = 'dovecot:password_query'
    files = _sql_files(run, doveconf, config_file, 'passdb')
    if isinstance(files, str):
        run.add(FAIL, name, files)
        return
    if not files:
        run.add(FAIL, name, _('%s has no passdb with driver = sql: '
                              'include vmm.conf.example') % config_file)
        return
    problems = []
    for path, settings in files:
        connect = parse_connect(settings.get('connect'))
        if connect.get('user'):
            run.dovecot_roles.setdefault(connect['user'], path)
        if settings.get('driver') != 'pgsql':
            problems.append(_("%(file)s: driver = %(driver)s, not pgsql")
                            % {'file': path,
                               'driver': settings.get('driver', '')})
        query = settings.get('password_query', '')
        if not query:
            problems.append(_('%s sets no password_query') % path)
        elif not re.search(r'%L?s\b|%L?\{(lcase:)?service\}', query):
            problems.append(_(
                "%s: password_query does not filter by service (no "
                "'WHERE %%Ls'): logins to services vmm disabled would "
                'pass; use the query of pgsql/dovecot/'
                'dovecot-sql.conf.ext') % path)
    if problems:
        run.add(FAIL, name, '; '.join(problems))
    else:
        run.add(OK, name, _('%s filters by service (%%Ls)')
                % ', '.join(path for path, _s in files))
    # The user_query's file names the dovecot role too.
    userdbs = _sql_files(run, doveconf, config_file, 'userdb')
    if not isinstance(userdbs, str):
        for path, settings in userdbs:
            connect = parse_connect(settings.get('connect'))
            if connect.get('user'):
                run.dovecot_roles.setdefault(connect['user'], path)


def _account(run):
    """The account's enabled services and dovecotuser() row, from vmm;
    None when the database is not usable, False when no such account."""
    if not run.db_ok:
        return None

    def work():
        local, domain = run.user.localpart, str(run.user.domain)
        run.cur.execute('SELECT smtp, pop3, imap, sieve FROM '
                         'dovecotpassword(%s, %s)', (local, domain))
        services = run.cur.fetchone()
        if services is None:
            return False
        run.cur.execute('SELECT uid, gid, home FROM dovecotuser(%s, %s)',
                         (local, domain))
        return (dict(zip(('smtp', 'pop3', 'imap', 'sieve'), services)),
                run.cur.fetchone())
    return run.query('dovecot:auth', work)


def _check_user(run, doveadm, config_file):
    address = str(run.user)
    account = _account(run)
    if account is False:
        run.add(FAIL, 'dovecot:auth', _('%s is not an account in vmm\'s '
                                        'database') % address)
        return
    service = 'imap'
    if account:
        enabled = [s for s in ('imap', 'pop3', 'sieve', 'smtp')
                   if account[0][s]]
        if not enabled:
            run.add(WARNING, 'dovecot:auth',
                    _('%s may use no service: login not tried') % address)
            service = None
        else:
            service = enabled[0]
    if service:
        out = run_program([doveadm, '-c', config_file, 'auth', 'test',
                           '-x', 'service=' + service, address],
                          input=run.password + '\n')
        # doveadm exits 77 for a refusal, a temporary failure and an
        # auth socket it cannot reach alike; its output tells them apart.
        if out.ok:
            run.add(OK, 'dovecot:auth',
                    _('`doveadm auth test` accepts %(user)s for '
                      '%(service)s') % {'user': address,
                                        'service': service})
        elif 'auth-client' in out.stderr and 'connect(' in out.stderr:
            run.add(FAIL, 'dovecot:auth',
                    _("Dovecot's auth socket does not answer (%(error)s):"
                      ' is Dovecot running with %(file)s?')
                    % {'error': out.message(), 'file': config_file})
        elif 'temp_fail' in out.stdout:
            run.add(FAIL, 'dovecot:auth',
                    _('Dovecot could not look %(user)s up (a temporary '
                      'failure): can its passdb reach the database, and '
                      'does password_query run? See the Dovecot log')
                    % {'user': address})
        elif out.returncode == 77:
            run.add(FAIL, 'dovecot:auth',
                    _('Dovecot refuses %(user)s for %(service)s: wrong '
                      'password (or password_query/default_pass_scheme '
                      'in the passdb file do not match vmm)')
                    % {'user': address, 'service': service})
        else:
            run.add(FAIL, 'dovecot:auth',
                    _('`doveadm auth test` failed for %(user)s: '
                      '%(error)s; is Dovecot running with %(file)s, and '
                      'can its passdb reach the database?')
                    % {'user': address, 'error': out.message(),
                       'file': config_file})
    out = run_program([doveadm, '-c', config_file, 'user', address])
    if out.returncode == 67:
        run.add(FAIL, 'dovecot:user',
                _("Dovecot's userdb does not know %(user)s: check "
                  'user_query in the userdb file of %(file)s')
                % {'user': address, 'file': config_file})
        return
    if not out.ok:
        run.add(FAIL, 'dovecot:user',
                _('`doveadm user %(user)s` failed: %(error)s')
                % {'user': address, 'error': out.message()})
        return
    fields = {}
    for line in out.stdout.splitlines():
        field, sep, value = line.partition('\t')
        if sep:
            fields[field.strip()] = value.strip()
    if account and account[1]:
        wrong = [
            '%s=%s (vmm: %s)' % (field, fields[field], want)
            for field, want in zip(('uid', 'gid', 'home'), account[1])
            if field in fields and fields[field] != str(want)]
        if wrong:
            run.add(FAIL, 'dovecot:user',
                    _("Dovecot's userdb answers %(wrong)s for %(user)s: "
                      'check user_query in the userdb file of %(file)s')
                    % {'wrong': ', '.join(wrong), 'user': address,
                       'file': config_file})
            return
    run.add(OK, 'dovecot:user', _('`doveadm user` knows %(user)s (home '
                                  '%(home)s)')
            % {'user': address, 'home': fields.get('home', '?')})
