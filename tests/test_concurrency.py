"""Concurrent vmm processes: real separate processes
of the installed script against one database.

Where a race must really happen, the test holds the lock the commands
queue on (the domain's row, or the domain_name table) until every process
is waiting for it, then lets them go at once.
"""

import contextlib
import os
import subprocess
import sys
import time

from cli_helpers import account_row, domain_row

VMM = os.path.join(os.path.dirname(sys.executable), 'vmm')


def start(config, *args):
    return subprocess.Popen([VMM, '--config', config] + list(args),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(procs):
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert 'Traceback' not in err, err
        results.append((proc.returncode, out, err))
    return results


def waiting_vmm_processes(pg, dbname):
    return pg.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
        "application_name = 'vmm' AND wait_event_type = 'Lock'",
        (dbname,))[0][0]


@contextlib.contextmanager
def held(pg, dbname, sql, params=()):
    """Run *sql* in an open transaction until the block ends."""
    conn = pg.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            yield
    finally:
        conn.rollback()
        conn.close()


def until_waiting(pg, dbname, count, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if waiting_vmm_processes(pg, dbname) >= count:
            return True
        time.sleep(0.05)
    return False


def test_eight_concurrent_useradds(vmm, db, config_file):
    assert vmm('da', 'example.org').code == 0
    procs = [start(config_file, 'ua', 'user%d@example.org' % i, '-p',
                   'pw%d' % i) for i in range(8)]
    results = finish(procs)
    assert [r[0] for r in results] == [0] * 8, results
    uids = [account_row(db, 'user%d@example.org' % i)[0] for i in range(8)]
    assert len(set(uids)) == 8
    for i in range(8):
        uid, gid, home = account_row(db, 'user%d@example.org' % i)
        st = os.stat(home)
        assert (st.st_uid, st.st_gid) == (uid, gid)
        assert os.path.isdir(os.path.join(home, 'Maildir', 'cur'))


def test_eight_useradds_released_at_once(vmm, pg, db, config_file):
    """The same, with all eight waiting on the domain at the same time."""
    assert vmm('da', 'example.org').code == 0
    with held(pg, db.name, "SELECT 1 FROM domain_data FOR UPDATE"):
        procs = [start(config_file, 'ua', 'user%d@example.org' % i, '-p',
                       'pw') for i in range(8)]
        assert until_waiting(pg, db.name, 8)
    results = finish(procs)
    assert [r[0] for r in results] == [0] * 8, results
    assert db.scalar('SELECT count(DISTINCT uid) FROM users') == 8


def test_two_domainadds_of_one_name(vmm, pg, db, config_file, mail_base):
    with held(pg, db.name,
              'LOCK TABLE domain_name IN SHARE ROW EXCLUSIVE MODE'):
        procs = [start(config_file, 'da', 'example.org') for _ in range(2)]
        until_waiting(pg, db.name, 2)
    results = finish(procs)
    assert sorted(r[0] for r in results) == [0, 38], results
    loser = [r for r in results if r[0] == 38][0]
    assert loser[2].startswith('Error: ') and loser[2].count('\n') == 1
    assert db.scalar('SELECT count(*) FROM domain_data') == 1
    gid, directory = domain_row(db, 'example.org')
    # only the winner's directory is left in the mail tree
    tree = [os.path.relpath(os.path.join(root, name), str(mail_base))
            for root, dirs, files in os.walk(str(mail_base))
            for name in dirs + files]
    assert tree == [os.path.relpath(os.path.dirname(directory),
                                    str(mail_base)),
                    os.path.relpath(directory, str(mail_base))]


def test_two_domainadds_unsynchronised(vmm, db, config_file):
    procs = [start(config_file, 'da', 'example.net') for _ in range(2)]
    results = finish(procs)
    assert sorted(r[0] for r in results) == [0, 38], results
    assert db.scalar('SELECT count(*) FROM domain_data') == 1


def test_relay_and_primary_domain_of_one_name(vmm, pg, db, config_file):
    """A name is one kind of domain, also when two commands race for it."""
    with held(pg, db.name, 'LOCK TABLE domain_name, relay_domain IN SHARE '
              'ROW EXCLUSIVE MODE'):
        procs = [start(config_file, 'da', 'example.org'),
                 start(config_file, 'rla', 'example.org')]
        until_waiting(pg, db.name, 2)
    results = finish(procs)
    assert sorted(r[0] for r in results) == [0, 38], results
    assert db.scalar("SELECT count(*) FROM domain_name") + \
        db.scalar("SELECT count(*) FROM relay_domain") == 1


def test_last_account_slot(vmm, pg, db, config_file):
    assert vmm('da', 'example.org').code == 0
    assert vmm('dl', 'example.org', '--accounts', '2').code == 0
    assert vmm('ua', 'first@example.org', '-p', 'pw').code == 0
    with held(pg, db.name, 'SELECT 1 FROM domain_data FOR UPDATE'):
        procs = [start(config_file, 'ua', 'racer%d@example.org' % i, '-p',
                       'pw') for i in range(2)]
        assert until_waiting(pg, db.name, 2)
    results = finish(procs)
    assert sorted(r[0] for r in results) == [0, 71], results
    assert db.scalar('SELECT count(*) FROM users') == 2
    loser = [i for i, r in enumerate(results) if r[0] == 71][0]
    assert account_row(db, 'racer%d@example.org' % loser) is None
    # the loser's home was not left behind
    domain_dir = domain_row(db, 'example.org')[1]
    assert len(os.listdir(domain_dir)) == 2


def test_last_alias_slot(vmm, pg, db, config_file):
    assert vmm('da', 'example.org').code == 0
    assert vmm('dl', 'example.org', '--aliases', '1').code == 0
    with held(pg, db.name, 'SELECT 1 FROM domain_data FOR UPDATE'):
        procs = [start(config_file, 'aa', 'a@example.org', 'x@example.com'),
                 start(config_file, 'caa', 'example.org', 'x@example.com')]
        assert until_waiting(pg, db.name, 2)
    results = finish(procs)
    assert sorted(r[0] for r in results) == [0, 71], results
    assert db.scalar('SELECT count(*) FROM alias') + \
        db.scalar('SELECT count(*) FROM catchall') == 1
