"""Runs killed at any instant leave nothing half-done once the next run
has started: every directory in the mail tree has its domain or account,
every domain and account has its directory, and the database holds all of
a command or nothing.  SIGTERM and SIGHUP end a run as Ctrl-C does.

The kills are real SIGKILLs: ``VMM_TEST_CRASH_AT=N`` makes vmm kill itself
at the Nth step of its directory work or commits, and other runs are
killed from outside after random delays."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from cli_helpers import assert_error, assert_ok

VMM = os.path.join(os.path.dirname(sys.executable), 'vmm')
STAGING = '.vmm-staging'


def run(config, *args, crash_at=None, input=None):
    env = dict(os.environ)
    env.pop('VMM_TEST_CRASH_AT', None)
    if crash_at is not None:
        env['VMM_TEST_CRASH_AT'] = str(crash_at)
    proc = subprocess.run([VMM, '--config', config] + [str(a) for a in args],
                          input=input, capture_output=True, text=True,
                          env=env, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def owners(db):
    """The domain directories and the homes the database knows."""
    domains = {row[0] for row in db.query('SELECT domaindir FROM '
                                          'domain_data')}
    homes = {'%s/%d' % (row[0], row[1]) for row in db.query(
        'SELECT d.domaindir, u.uid FROM users u JOIN domain_data d '
        'USING (gid)')}
    return domains, homes


def assert_consistent(db, base):
    """The mail tree and the database agree, and nothing is owed."""
    base = str(base)
    domains, homes = owners(db)
    for path in domains | homes:
        assert os.path.isdir(path), 'missing directory %s' % path
    for home in homes:
        assert os.path.isdir(os.path.join(home, 'Maildir', 'cur')), \
            'incomplete mailbox in %s' % home
    stray = []
    for root, dirs, _files in os.walk(base):
        for name in list(dirs):
            path = os.path.join(root, name)
            if path in homes:
                dirs.remove(name)       # the account's own business
            elif path not in domains and not any(
                    d.startswith(path + '/') for d in domains):
                stray.append(path)
                dirs.remove(name)
    assert stray == [], 'directories without a domain or account'
    assert db.scalar('SELECT count(*) FROM directory_removal') == 0


def next_run(config):
    """Any command: its start finishes or undoes what a killed run left."""
    code, out, err = run(config, 'listdomains')
    assert code == 0 and 'Traceback' not in err, err


def kill_at_every_step(config, db, base, command, done, undone,
                       steps=None):
    """Run ``command(n)`` killed at step 1, 2, … (or at *steps*) until a
    run completes; after each kill the next run must leave a consistent
    state in which ``done(n)`` or ``undone(n)`` holds.  Returns the count
    of kills."""
    kills = 0
    for n in steps or range(1, 10000):
        code, _out, err = run(config, *command(n), crash_at=n)
        if code == 0:
            assert done(n)
            break
        assert code == -signal.SIGKILL, (n, code, err)
        kills += 1
        next_run(config)
        assert_consistent(db, base)
        assert done(n) != undone(n), 'half-done at step %d' % n
    else:
        if steps is None:
            pytest.fail('the command never completed')
    return kills


def count(db, sql, *params):
    return db.scalar(sql, params or None)


def account_exists(db, address):
    local, domain = address.split('@')
    return count(db, 'SELECT count(*) FROM users u JOIN domain_name n '
                 'USING (gid) WHERE u.local_part = %s AND n.domainname = %s',
                 local, domain) == 1


def domain_exists(db, name):
    return count(db, 'SELECT count(*) FROM domain_name WHERE domainname = '
                 '%s', name) == 1


@pytest.fixture
def domain(vmm, db):
    assert_ok(vmm('da', 'example.org'))
    return 'example.org'


def test_useradd_killed_at_every_step(config_file, db, mail_base, domain):
    kills = kill_at_every_step(
        config_file, db, mail_base,
        lambda n: ('ua', 'u%d@example.org' % n, '-p', 'secret'),
        lambda n: account_exists(db, 'u%d@example.org' % n),
        lambda n: not account_exists(db, 'u%d@example.org' % n))
    assert kills >= 4       # staging, build, before and after the commit


def test_domainadd_with_postmaster_killed_at_every_step(
        vmm, config_file, db, mail_base, tmp_path):
    from conftest import write_config
    config = write_config(tmp_path / 'pm.cfg', db.server, db.name, mail_base,
                          domain={'auto_postmaster': 'true'},
                          account={'random_password': 'true'})

    def complete(n):
        return domain_exists(db, 'd%d.example' % n) and \
            account_exists(db, 'postmaster@d%d.example' % n)

    def absent(n):
        return not domain_exists(db, 'd%d.example' % n) and \
            not account_exists(db, 'postmaster@d%d.example' % n)
    kills = kill_at_every_step(config, db, mail_base,
                               lambda n: ('da', 'd%d.example' % n),
                               complete, absent)
    assert kills >= 4


def test_userdelete_killed_at_every_step(vmm, config_file, db, mail_base,
                                         domain):
    def command(n):
        address = 'u%d@example.org' % n
        assert_ok(vmm('ua', address, '-p', 'secret'))
        home = owners(db)[1]
        deliver(home, 'mail for %s' % address)
        return 'ud', address, '--delete-directory'
    kills = kill_at_every_step(
        config_file, db, mail_base, command,
        lambda n: not account_exists(db, 'u%d@example.org' % n),
        lambda n: account_exists(db, 'u%d@example.org' % n))
    assert kills >= 4


def deliver(homes, text):
    """A message in every home's Maildir/new."""
    for home in homes:
        path = os.path.join(home, 'Maildir', 'new', '%d.msg' % len(text))
        if not os.path.exists(path):
            with open(path, 'w') as handle:
                handle.write(text)


def test_domaindelete_killed_at_every_step(vmm, config_file, db, mail_base):
    def command(n):
        name = 'd%d.example' % n
        assert_ok(vmm('da', name))
        for user in ('a', 'b', 'c'):
            assert_ok(vmm('ua', '%s@%s' % (user, name), '-p', 'secret'))
        deliver(owners(db)[1], 'mail')
        return 'dd', name, '--force', '--delete-directory'
    kills = kill_at_every_step(
        config_file, db, mail_base, command,
        lambda n: not domain_exists(db, 'd%d.example' % n),
        lambda n: domain_exists(db, 'd%d.example' % n))
    assert kills >= 4
    assert count(db, 'SELECT count(*) FROM users') == \
        3 * count(db, 'SELECT count(*) FROM domain_data')


def export_document(n, base, accounts=3):
    gid, uid = 80000 + 100 * n, 90000 + 100 * n
    return json.dumps({'format': 'vmm-export', 'version': 1, 'domains': [
        {'name': 'i%d-%d.example' % (n, k), 'gid': gid + k,
         'directory': '%s/imported/%d/%d' % (base, n, k),
         'accounts': [{'local_part': 'user%d' % a, 'uid': uid + 10 * k + a,
                       'password': '{PLAIN}secret'}
                      for a in range(accounts)]}
        for k in range(2)]})


def test_import_killed_at_every_step(config_file, db, mail_base, tmp_path):
    def command(n):
        path = tmp_path / ('import%d.json' % n)
        path.write_text(export_document(n, mail_base))
        return 'import', str(path)

    def imported(n):
        return count(db, 'SELECT count(*) FROM domain_data WHERE gid IN '
                     '(%s, %s)', 80000 + 100 * n, 80001 + 100 * n) == 2

    def not_imported(n):
        return count(db, 'SELECT count(*) FROM domain_data WHERE gid IN '
                     '(%s, %s)', 80000 + 100 * n, 80001 + 100 * n) == 0
    kills = kill_at_every_step(config_file, db, mail_base, command,
                               imported, not_imported)
    assert kills >= 5


def batch_lines(n, lines=500):
    return ''.join('useradd b%d-%d@example.org -p secret\n' % (n, i)
                   for i in range(lines))


def batch_accounts(db, n):
    return count(db, "SELECT count(*) FROM users WHERE local_part LIKE %s",
                 'b%d-%%' % n)


def test_batch_killed_at_chosen_steps(config_file, db, mail_base, domain,
                                      tmp_path):
    """500 useradds: staged one by one, one commit, placed one by one."""
    def command(n):
        path = tmp_path / ('batch%d' % n)
        path.write_text(batch_lines(n))
        return 'batch', str(path)
    steps = [1, 2, 250, 501, 502, 503, 504, 750, 1003, 1004, 1005]
    kills = kill_at_every_step(
        config_file, db, mail_base, command,
        lambda n: batch_accounts(db, n) == 500,
        lambda n: batch_accounts(db, n) == 0, steps=steps)
    assert kills >= 9


def test_batch_killed_at_random_instants(config_file, db, mail_base, domain,
                                         tmp_path):
    rng = random.Random(17)
    path = tmp_path / 'probe'
    path.write_text(batch_lines(0))
    started = time.monotonic()
    assert run(config_file, 'batch', str(path))[0] == 0
    duration = time.monotonic() - started
    for n in range(1, 11):
        path = tmp_path / ('batch%d' % n)
        path.write_text(batch_lines(n))
        env = dict(os.environ)
        env.pop('VMM_TEST_CRASH_AT', None)
        proc = subprocess.Popen([VMM, '--config', config_file, 'batch',
                                 str(path)], env=env,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, duration * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        next_run(config_file)
        assert_consistent(db, mail_base)
        assert batch_accounts(db, n) in (0, 500)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGHUP,
                                    signal.SIGINT])
def test_signals_end_a_batch_like_ctrl_c(vmm, config_file, db, mail_base,
                                         domain, snapshot, tmp_path, signum):
    path = tmp_path / 'batch'
    path.write_text(batch_lines(1, lines=3000))
    before = snapshot()
    env = dict(os.environ)
    env.pop('VMM_TEST_CRASH_AT', None)
    proc = subprocess.Popen([VMM, '--config', config_file, 'batch',
                             str(path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    staging = os.path.join(str(mail_base), STAGING)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:          # until it is well under way
        runs = os.listdir(staging) if os.path.isdir(staging) else []
        if runs and len(os.listdir(os.path.join(staging, runs[0]))) >= 20:
            break
        time.sleep(0.02)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert err.count('\n') == 1 and err.startswith('Error: '), err
    assert 'Traceback' not in err
    assert snapshot() == before


@pytest.mark.parametrize('where', ['inside a home', 'above',
                                   'same document', 'symlink', 'dotdot',
                                   'staging'])
def test_import_refuses_unsafe_directories(vmm, db, mail_base, snapshot,
                                           tmp_path, domain, where):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'secret'))
    document = json.loads(export_document(1, mail_base, accounts=1))
    directories = owners(db)[0]
    first = document['domains'][0]
    if where == 'inside a home':    # a useradd there would nest homes
        first['directory'] = next(iter(owners(db)[1])) + '/evil'
    elif where == 'above':      # would contain example.org's directory
        first['directory'] = os.path.dirname(next(iter(directories)))
    elif where == 'same document':
        document['domains'][1]['directory'] = first['directory'] + '/x'
    elif where == 'symlink':
        os.symlink('/tmp', str(mail_base / 'link'))
        first['directory'] = str(mail_base / 'link' / 'd')
    elif where == 'dotdot':
        first['directory'] = str(mail_base / 'a' / '..' / 'b')
    else:
        first['directory'] = str(mail_base / STAGING / 'x')
    path = tmp_path / 'unsafe.json'
    path.write_text(json.dumps(document))
    before = snapshot()
    result = vmm('import', str(path))
    assert_error(result, 73)
    assert 'directory' in result.err
    if where in ('inside a home', 'above'):
        assert 'domains[0].directory' in result.err
        assert "'example.org'" in result.err
    assert snapshot() == before


def test_domainadd_avoids_an_imported_hex_directory(vmm, db, mail_base,
                                                    tmp_path):
    """An imported domain may sit at base/3: a new domain is never put
    inside it, nor inside any other domain's directory."""
    document = {'format': 'vmm-export', 'version': 1, 'domains': [
        {'name': 'i%d.example' % digit, 'gid': 75000 + digit,
         'directory': '%s/%x' % (mail_base, digit)} for digit in range(15)]}
    path = tmp_path / 'hex.json'
    path.write_text(json.dumps(document))
    assert_ok(vmm('import', str(path)))
    for n in range(5):
        assert_ok(vmm('da', 'new%d.example' % n))
    for n in range(5):
        directory = db.scalar(
            'SELECT domaindir FROM domain_data d JOIN domain_name n '
            'USING (gid) WHERE n.domainname = %s', ('new%d.example' % n,))
        assert directory.startswith(str(mail_base) + '/f/')
    assert_consistent(db, mail_base)


def interrupted_check(vmm):
    result = vmm('check', '--json')
    checks = {c['name']: c for c in json.loads(result.out)['checks']}
    return checks['interrupted_runs']


def test_check_reports_what_a_killed_run_left(vmm, config_file, db,
                                              mail_base, domain):
    assert interrupted_check(vmm)['status'] == 'ok'
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'secret'))
    for command, left in ((('ua', 'joe@example.org', '-p', 'x'),
                           'runs with staged directories: 1, directory '
                           'removals owed: 0'),
                          (('ud', 'jane@example.org', '--delete-directory'),
                           'runs with staged directories: 0, directory '
                           'removals owed: 1')):
        # killed at its second step: staged but not committed, or
        # committed but not removed
        assert run(config_file, *command, crash_at=2)[0] == -signal.SIGKILL
        for _ in range(2):          # check only reports, changes nothing
            check = interrupted_check(vmm)
            assert check['status'] == 'warning'
            assert left in check['detail']
        next_run(config_file)
        assert interrupted_check(vmm)['status'] == 'ok'
        assert_consistent(db, mail_base)
