"""`vmm check` (vmm(1) installation check).

Against the private Postfix and Dovecot of tests/mailservers.py, with data
set up by vmm commands: a correct installation passes every check; then,
one at a time, each fault is reported as FAIL naming its culprit, exit 74,
and `vmm check` itself changes nothing.  Faults go into copies of the
servers' configuration (or are undone in ``finally``), so the session's
servers stay intact for the other tests.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import time

import pytest

from cli_helpers import assert_ok as ok
from conftest import Runner, write_config

pytestmark = pytest.mark.servers

CHECK_FAILED = 74


@pytest.fixture
def db(mail_db):
    return mail_db


@pytest.fixture
def mail(mailservers):
    return mailservers


@pytest.fixture
def data(vmm):
    """Every kind of object the maps answer for, alias domain included."""
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('da', 'example.com', '-t', 'smtp:[mx.example.com]'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    ok(vmm('ua', 'b@example.org', '-p', 'secret'))
    ok(vmm('ut', 'b@example.org', 'smtp:[other.example]:2525'))
    ok(vmm('ua', 'c@example.com', '-p', 'secret'))
    ok(vmm('aa', 'team@example.org', 'a@example.org', 'b@example.org'))
    ok(vmm('caa', 'example.com', 'c@example.com'))
    ok(vmm('ra', 'old@example.org', 'new@elsewhere.test'))
    ok(vmm('rla', 'relay.test', '--recipient', 'x@relay.test'))


def run_check(vmm, mail, postfix_dir=None, dovecot_config=None, *extra,
              **kwargs):
    """`vmm check --json` against the private servers (or copies of their
    configuration); (result, {name: check}, document)."""
    result = vmm('check', '--json',
                 '--postfix-dir', postfix_dir or mail.postfix.config_dir,
                 '--dovecot-config',
                 dovecot_config or mail.dovecot.config_file,
                 *extra, **kwargs)
    assert result.code in (0, CHECK_FAILED), result
    document = json.loads(result.out)
    checks = {}
    for check in document['checks']:
        assert set(check) == {'name', 'status', 'detail'}
        assert check['status'] in ('ok', 'warning', 'FAIL'), check
        assert check['name'] not in checks, check
        checks[check['name']] = check
    assert document['failed'] == sum(
        1 for c in document['checks'] if c['status'] == 'FAIL')
    assert result.code == (CHECK_FAILED if document['failed'] else 0)
    return result, checks, document


def failures(checks):
    return {name: c['detail'] for name, c in checks.items()
            if c['status'] == 'FAIL'}


def only_failure(result, checks, name):
    """The one FAIL is *name*; its detail."""
    assert result.code == CHECK_FAILED, result
    assert set(failures(checks)) == {name}, failures(checks)
    return checks[name]['detail']


@pytest.fixture
def state(db, snapshot, mail):
    """Everything `vmm check` must leave alone: the rows, the mail tree,
    the grants, the servers' configuration files."""
    def take(*extra_dirs):
        grants = db.query(
            "SELECT c.relname, c.relacl::text, a.attname, a.attacl::text "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
            "AND a.attacl IS NOT NULL WHERE n.nspname = 'public' "
            "ORDER BY 1, 3")
        files = {}
        for directory in (mail.postfix.config_dir,
                          mail.dovecot.directory) + extra_dirs:
            for name in sorted(os.listdir(directory)):
                path = os.path.join(directory, name)
                if os.path.isfile(path) and not name.endswith('.log'):
                    st = os.stat(path)
                    with open(path, 'rb') as handle:
                        files[path] = (hashlib.sha256(handle.read())
                                       .hexdigest(), st.st_mode, st.st_uid)
        return snapshot(), grants, files
    return take


@pytest.fixture
def postfix_copy(tmp_path, mail):
    """A copy of the private Postfix's configuration directory: main.cf
    names the map files through ${config_directory}, so the copy's maps
    are the copies."""
    directory = tmp_path / 'postfix'
    shutil.copytree(mail.postfix.config_dir, directory)
    return directory


@pytest.fixture
def dovecot_copy(tmp_path, mail):
    """A copy of the private Dovecot's dovecot.conf whose SQL file is a
    copy too; returns (config file, sql file)."""
    sql = tmp_path / 'dovecot-sql.conf.ext'
    shutil.copy(mail.dovecot.sql_file, sql)
    conf = tmp_path / 'dovecot.conf'
    with open(mail.dovecot.config_file) as handle:
        text = handle.read()
    assert mail.dovecot.sql_file in text
    conf.write_text(text.replace(mail.dovecot.sql_file, str(sql)))
    return conf, sql


def edit(path, pattern, replacement, count=1):
    text = path.read_text()
    new, done = re.subn(pattern, replacement, text, flags=re.M)
    assert done >= count, (path, pattern)
    path.write_text(new)
    # Postfix waits until a table file is a few seconds old before it
    # reads it (it might still be being written): backdate the edit.
    past = time.time() - 60
    os.utime(path, (past, past))


# -- a correct installation ---------------------------------------------


def test_correct_installation_passes_every_check(vmm, mail, data, state):
    before = state()
    result, checks, document = run_check(
        vmm, mail, None, None, '--user', 'a@example.org', '--password',
        'secret')
    assert result.code == 0, result
    assert failures(checks) == {}
    assert [c for c in document['checks'] if c['status'] != 'ok'] == []
    assert set(checks) == {
        'database', 'schema', 'base_directory', 'interrupted_runs',
        'postfix', 'postfix:virtual_mailbox_domains',
        'postfix:virtual_mailbox_maps',
        'postfix:virtual_alias_maps', 'postfix:virtual_uid_maps',
        'postfix:virtual_gid_maps', 'postfix:transport_maps',
        'postfix:relocated_maps', 'postfix:smtpd_sender_login_maps',
        'postfix:relay_domains', 'postfix:relay_recipient_maps',
        'dovecot', 'dovecot:password_query', 'dovecot:auth', 'dovecot:user',
        'role:postfix', 'role:dovecot', 'role:opendkim'}
    # Every map was asked about real objects, and found some.
    for name, check in checks.items():
        if name.startswith('postfix:'):
            assert mail.postfix.config_dir in check['detail']
            assert not re.search(r'\(0 found\)', check['detail']), check

    # The same as lines of text; the password from standard input.
    result = vmm('check', '--postfix-dir', mail.postfix.config_dir,
                 '--dovecot-config', mail.dovecot.config_file,
                 '--user', 'a@example.net', input='secret\n')
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert len(lines) == len(checks)
    assert all(line.split()[0] == 'ok' for line in lines), lines
    assert any(line.split()[1] == 'dovecot:auth:' for line in lines)
    assert state() == before


def test_dovecot_config_option_is_the_default_file(tmp_path, pg, db,
                                                  mail_base, mail, data):
    """Without --dovecot-config, misc.dovecot_config names the file: the
    Dovecot checks and the logins run against the private Dovecot."""
    vmm = Runner(write_config(tmp_path / 'live.cfg', pg, db.name, mail_base,
                              misc={'dovecot_config':
                                    mail.dovecot.config_file}))
    result = vmm('check', '--json', '--postfix-dir', mail.postfix.config_dir,
                 '--user', 'a@example.org', '--password', 'secret')
    checks = {c['name']: c for c in json.loads(result.out)['checks']}
    assert result.code == 0, failures(checks)
    for name in ('dovecot:password_query', 'dovecot:auth', 'dovecot:user'):
        assert checks[name]['status'] == 'ok', checks[name]
    assert mail.dovecot.sql_file in checks['dovecot:password_query'][
        'detail']


def test_arguments(vmm, mail):
    result = vmm('check', '--password', 'x')
    assert result.code == 2 and '--user' in result.err, result
    result = vmm('check', '--postfix-dir', '/nonexistent/postfix')
    assert result.code == 56 and '/nonexistent/postfix' in result.err, result
    result = vmm('check', '--dovecot-config', '/nonexistent/dovecot.conf')
    assert result.code == 44, result
    result = vmm('check', '--user', 'not-an-address', '--password', 'x')
    assert result.code == 43, result
    result = vmm('ck', '--postfix-dir', mail.postfix.config_dir,
                 '--dovecot-config', mail.dovecot.config_file,
                 '--user', 'a@example.org', input='\n')
    assert result.code == 69, result


# -- one fault at a time ---------------------------------------------------


def test_map_parameter_missing_from_main_cf(vmm, mail, data, state,
                                            postfix_copy):
    edit(postfix_copy / 'main.cf', r'^virtual_alias_maps\s*=.*\n', '')
    before = state(str(postfix_copy))
    result, checks, _doc = run_check(vmm, mail, str(postfix_copy))
    detail = only_failure(result, checks, 'postfix:virtual_alias_maps')
    assert 'virtual_alias_maps' in detail
    assert str(postfix_copy / 'main.cf') in detail
    assert 'proxy:pgsql:${config_directory}/pgsql-virtual_alias_maps.cf' \
        in detail
    assert state(str(postfix_copy)) == before


def test_uid_map_missing_hint_names_no_proxy(vmm, mail, data, state,
                                            postfix_copy):
    """main.cf.example reads virtual_uid_maps without proxy: (virtual(8)
    asks it itself); the hint says the same."""
    edit(postfix_copy / 'main.cf', r'^virtual_uid_maps\s*=.*\n', '')
    result, checks, _doc = run_check(vmm, mail, str(postfix_copy))
    detail = only_failure(result, checks, 'postfix:virtual_uid_maps')
    assert 'proxy:' not in detail, detail
    assert 'virtual_uid_maps = pgsql:${config_directory}/' \
        'pgsql-virtual_uid_maps.cf' in detail, detail


def test_map_file_pointing_at_a_wrong_database(vmm, mail, data, state,
                                               postfix_copy):
    # An existing database with the vmm schema and the grants, but not the
    # one vmm writes to: every answer is "not found".
    path = postfix_copy / 'pgsql-virtual_mailbox_maps.cf'
    edit(path, r'^dbname\s*=.*$', 'dbname = vmm_template')
    before = state(str(postfix_copy))
    result, checks, _doc = run_check(vmm, mail, str(postfix_copy))
    detail = only_failure(result, checks, 'postfix:virtual_mailbox_maps')
    assert str(path) in detail and 'dbname' in detail
    assert state(str(postfix_copy)) == before

    # A database that does not exist: postmap fails.
    edit(path, r'^dbname\s*=.*$', 'dbname = no_such_database')
    result, checks, _doc = run_check(vmm, mail, str(postfix_copy))
    detail = only_failure(result, checks, 'postfix:virtual_mailbox_maps')
    assert str(path) in detail and 'no_such_database' in detail


def test_map_file_query_returning_the_wrong_column(vmm, mail, data, state,
                                                   postfix_copy):
    path = postfix_copy / 'pgsql-transport_maps.cf'
    edit(path, r'SELECT transport FROM', 'SELECT recipient FROM')
    before = state(str(postfix_copy))
    result, checks, _doc = run_check(vmm, mail, str(postfix_copy))
    detail = only_failure(result, checks, 'postfix:transport_maps')
    assert str(path) in detail and 'query' in detail
    assert state(str(postfix_copy)) == before


def test_password_query_without_service_filter(vmm, mail, data, state,
                                               dovecot_copy):
    conf, sql = dovecot_copy
    edit(sql, r"'%Ls'", "'imap'")
    before = state(str(sql.parent))
    result, checks, _doc = run_check(vmm, mail, None, str(conf),
                                     '--user', 'a@example.org',
                                     '--password', 'secret')
    detail = only_failure(result, checks, 'dovecot:password_query')
    assert str(sql) in detail and '%Ls' in detail
    assert 'disabled' in detail
    assert state(str(sql.parent)) == before


def test_wrong_password_for_user(vmm, mail, data, state):
    before = state()
    result, checks, _doc = run_check(vmm, mail, None, None, '--user',
                                     'a@example.org', '--password', 'wrong')
    detail = only_failure(result, checks, 'dovecot:auth')
    assert 'a@example.org' in detail and 'wrong password' in detail
    assert checks['dovecot:user']['status'] == 'ok'
    assert state() == before


def test_auth_socket_missing_is_not_a_wrong_password(vmm, mail, data, state,
                                                     dovecot_copy, tmp_path):
    """A Dovecot that does not run (no auth socket in its base_dir) is
    reported as such, not as a refused password."""
    conf, _sql = dovecot_copy
    edit(conf, r'^base_dir = .*$', 'base_dir = %s' % (tmp_path / 'no-run'))
    result, checks, _doc = run_check(vmm, mail, None, str(conf), '--user',
                                     'a@example.org', '--password', 'secret')
    detail = failures(checks)['dovecot:auth']
    assert 'wrong password' not in detail, detail
    assert 'auth socket' in detail and str(conf) in detail, detail
    assert str(tmp_path / 'no-run') in detail, detail


def test_base_directory_made_as_install_says(vmm, mail, data, mail_base):
    """INSTALL's own command for the mail directory makes one that
    `vmm check` passes."""
    with open(os.path.join(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))), 'INSTALL')) as handle:
        commands = re.findall(r'^\s*(install -d .*/srv/mail)\s*$',
                              handle.read(), re.M)
    assert len(commands) == 1, commands
    base = mail_base / 'srv' / 'mail'
    os.mkdir(base.parent, 0o755)
    argv = commands[0].split()
    assert argv[-1] == '/srv/mail'
    subprocess.run(argv[:-1] + [str(base)], check=True)
    result = vmm('configset', 'misc.base_directory', str(base))
    assert result.code == 0, result
    _result, checks, _doc = run_check(vmm, mail)
    assert checks['base_directory']['status'] == 'ok', \
        checks['base_directory']
    assert os.stat(base).st_mode & 0o022 == 0


def test_base_directory_writable_by_everyone(vmm, mail, data, state,
                                             mail_base):
    mode = stat.S_IMODE(os.stat(mail_base).st_mode)
    os.chmod(mail_base, 0o777)
    try:
        before = state()
        result, checks, _doc = run_check(vmm, mail)
        detail = only_failure(result, checks, 'base_directory')
        assert str(mail_base) in detail and '0777' in detail
        assert state() == before
    finally:
        os.chmod(mail_base, mode)


def test_postfix_role_granted_select_on_users(vmm, mail, data, db, state):
    db.query('GRANT SELECT ON users TO postfix')
    try:
        before = state()
        result, checks, _doc = run_check(vmm, mail)
        detail = only_failure(result, checks, 'role:postfix')
        assert 'users' in detail and 'set-permissions.sql' in detail
        assert state() == before
    finally:
        db.query('REVOKE SELECT ON users FROM postfix')


# -- what is not there, or does not answer ---------------------------------


def test_missing_postfix_is_a_warning(tmp_path, pg, db, mail_base, mail,
                                      data):
    vmm = Runner(write_config(tmp_path / 'nopostfix.cfg', pg, db.name,
                              mail_base,
                              bin={'postconf': '/nonexistent/postconf'}))
    result = vmm('check', '--json', '--dovecot-config',
                 mail.dovecot.config_file)
    assert result.code == 0, result
    checks = {c['name']: c for c in json.loads(result.out)['checks']}
    assert checks['postfix']['status'] == 'warning'
    assert '/nonexistent/postconf' in checks['postfix']['detail']
    assert not any(name.startswith('postfix:') for name in checks)
    assert failures(checks) == {}
    assert checks['role:postfix']['status'] == 'ok'

    # Neither Postfix nor Dovecot: warnings, still no failure.
    vmm = Runner(write_config(tmp_path / 'nothing.cfg', pg, db.name,
                              mail_base,
                              bin={'postconf': '/nonexistent/postconf',
                                   'doveadm': '/nonexistent/doveadm'}))
    result = vmm('check', '--json', '--user', 'a@example.org',
                 '--password', 'secret')
    assert result.code == 0, result
    checks = {c['name']: c for c in json.loads(result.out)['checks']}
    assert checks['postfix']['status'] == 'warning'
    assert checks['dovecot']['status'] == 'warning'
    assert '/nonexistent/doveadm' in checks['dovecot']['detail']
    assert not any(name.startswith(('postfix:', 'dovecot:'))
                   for name in checks)
    assert failures(checks) == {}


def test_dead_database_host_in_a_map_file_fails_quickly(vmm, mail, data,
                                                        postfix_copy):
    # A "database server" that takes the connection and never answers.
    with socket.socket() as dead:
        dead.bind(('127.0.0.1', 0))
        dead.listen(1)
        path = postfix_copy / 'pgsql-relocated_maps.cf'
        edit(path, r'^hosts\s*=.*$',
             'hosts = inet:127.0.0.1:%d' % dead.getsockname()[1])
        started = time.monotonic()
        result, checks, _doc = run_check(vmm, mail, str(postfix_copy))
        elapsed = time.monotonic() - started
    detail = only_failure(result, checks, 'postfix:relocated_maps')
    assert str(path) in detail and 'hosts' in detail
    assert elapsed < 10, elapsed


def test_connect_lines_are_read_as_libpq_reads_them():
    from vmm.check.programs import parse_connect
    assert parse_connect(r"host=/run/pg dbname=mailsys user=dovecot "
                         r"password='it\'s a \\ secret'") == {
        'host': '/run/pg', 'dbname': 'mailsys', 'user': 'dovecot',
        'password': "it's a \\ secret"}
    assert parse_connect("host = 'a b' port=5433") == {'host': 'a b',
                                                       'port': '5433'}
    assert parse_connect("host='unterminated") == {}
    assert parse_connect(None) == {}


def _keys_line(total, wrong):
    """`vmm check`'s line for a map whose answers differ for *wrong* of
    *total* keys."""
    from vmm.check.base import CheckRun
    from vmm.check.postfix import PostfixMap, _compare
    checker = CheckRun(config=None)
    keys = ['k%d@example.org' % i for i in range(total)]
    _compare(checker, PostfixMap('virtual_alias_maps', 'address', None,
                                 False, None), '/etc/postfix/x.cf', keys,
             {key: ['a@example.org'] for key in keys},
             {key: ['a@example.org'] for key in keys[wrong:]})
    (result,) = checker.results
    assert result.status == 'FAIL'
    return result.detail


def test_differing_keys_line_has_the_right_plural(monkeypatch):
    import gettext

    import vmm.i18n
    monkeypatch.setattr(vmm.i18n, '_translation', vmm.i18n._English)
    assert _keys_line(1, 1).startswith(
        "/etc/postfix/x.cf (virtual_alias_maps): for 1 of 1 key Postfix's "
        'answer differs')
    assert _keys_line(4, 1).startswith(
        "/etc/postfix/x.cf (virtual_alias_maps): for 1 of 4 keys Postfix's "
        'answer differs')
    monkeypatch.setattr(vmm.i18n, '_translation', gettext.translation(
        'vmm', os.path.join(os.path.dirname(vmm.i18n.__file__), 'locale'),
        languages=['de']))
    assert _keys_line(1, 1).startswith(
        '/etc/postfix/x.cf (virtual_alias_maps): Bei 1 von 1 Schlüssel '
        'weicht die Antwort von Postfix von den Lookup-Funktionen')
    assert _keys_line(4, 1).startswith(
        '/etc/postfix/x.cf (virtual_alias_maps): Bei 1 von 4 Schlüsseln '
        'weicht die Antwort von Postfix von den Lookup-Funktionen')
