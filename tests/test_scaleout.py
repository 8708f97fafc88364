"""Scale-out (vmm(1)): a private primary with a streaming hot standby.
vmm writes through a host list that names the standby first; reads work
on the standby alone; writes against the standby alone fail cleanly; the
standby keeps answering lookups while the primary is down."""

import os
import shutil
import subprocess
import tempfile

import pytest

import servers
from conftest import Runner, write_config


def standby_of(primary, directory):
    """A hot standby of *primary* (pg_basebackup -R), started."""
    standby = servers.PostgresServer(directory)
    standby._mkdir(standby.directory)
    os.chmod(standby.directory, 0o755)
    standby._mkdir(standby.socket_dir)
    standby._run('pg_basebackup', '-D', standby.datadir, '-R', '-X',
                 'stream', '-h', primary.socket_dir, '-p', str(primary.port),
                 '-U', primary.superuser, '--no-sync', '-c', 'fast')
    with open(os.path.join(standby.datadir, 'postgresql.conf'), 'a') as f:
        f.write("\nunix_socket_directories = '%s'\nhot_standby = on\n"
                % standby.socket_dir)
    return standby.start()


@pytest.fixture(scope='module')
def cluster():
    top = tempfile.mkdtemp(prefix='vmm-test-replication-')
    os.chmod(top, 0o711)
    primary = servers.PostgresServer(os.path.join(top, 'primary')).start()
    standby = None
    try:
        for role in ('postfix', 'dovecot'):
            primary.execute("CREATE ROLE %s LOGIN PASSWORD '%s'"
                            % (role, role))
        primary.execute('CREATE DATABASE mailsys')
        standby = standby_of(primary, os.path.join(top, 'standby'))
        base = os.path.join(top, 'mail')
        os.mkdir(base)
        os.chmod(base, 0o711)
        yield primary, standby, top, base
    finally:
        if standby is not None:
            standby.destroy()
        primary.destroy()
        shutil.rmtree(top, ignore_errors=True)


class _NoServer:
    """write_config's defaults, all overridden by the host lists; no
    postconf (vmm then takes Postfix's default limits)."""
    socket_dir, port, superuser = '', 0, 'postgres'
    postconf = '/nonexistent/postconf'


def runner(top, base, name, hosts, ports):
    path = write_config(os.path.join(top, name + '.cfg'), _NoServer,
                        'mailsys',
                        base, database={'host': hosts, 'port': ports,
                                        'user': 'postgres',
                                        'name': 'mailsys'})
    return Runner(path)


def test_replication_end_to_end(cluster):
    primary, standby, top, base = cluster
    both = runner(top, base, 'both',
                  '%s,%s' % (standby.socket_dir, primary.socket_dir),
                  '%d,%d' % (standby.port, primary.port))
    for args in (('dbupgrade',), ('da', 'example.org'),
                 ('ua', 'jane@example.org', '-p', 'secret'),
                 ('aa', 'team@example.org', 'jane@example.org')):
        result = both(*args)
        assert result.code == 0, (args, result.err)
    primary.psql('mailsys', '-v', 'postfix=postfix', '-v', 'dovecot=dovecot',
                 '-f', os.path.join(os.path.dirname(__file__), '..', 'pgsql',
                                    'set-permissions.sql'),
                 stdout=subprocess.DEVNULL)

    def standby_answers():
        import psycopg2
        try:
            return standby.execute(
                "SELECT destination FROM postfix_virtual_alias_map('team', "
                "'example.org')", dbname='mailsys', user='postfix')
        except psycopg2.Error:  # not replayed yet
            return None
    assert servers.wait_for(standby_answers, timeout=15) == \
        [('jane@example.org',)]

    # Postfix reading from the standby through a pgsql: map
    confdir = os.path.join(top, 'postfix')
    os.makedirs(confdir, exist_ok=True)
    with open(os.path.join(confdir, 'main.cf'), 'w') as handle:
        handle.write('compatibility_level = 3.6\n')
    mapfile = os.path.join(confdir, 'pgsql-virtual_alias_maps.cf')
    with open(mapfile, 'w') as handle:
        handle.write('hosts = 127.0.0.1:%d\nuser = postfix\npassword = '
                     'postfix\ndbname = mailsys\nquery = SELECT destination '
                     "FROM postfix_virtual_alias_map('%%u', '%%d')\n"
                     % standby.port)
    proc = subprocess.run(['postmap', '-c', confdir, '-q',
                           'team@example.org', 'pgsql:' + mapfile],
                          capture_output=True, text=True)
    assert (proc.returncode, proc.stdout.strip()) == (0, 'jane@example.org'), \
        proc.stderr

    only_standby = runner(top, base, 'standby', standby.socket_dir,
                          str(standby.port))
    info = only_standby('userinfo', 'jane@example.org')
    assert info.code == 0 and 'jane@example.org' in info.out, info.err
    assert only_standby('ld').code == 0
    before = standby.dump_data('mailsys')
    refused = only_standby('ua', 'joe@example.org', '-p', 'secret')
    assert refused.code == 35
    assert refused.err.count('\n') == 1 and 'standby' in refused.err
    assert 'Traceback' not in refused.err
    assert standby.dump_data('mailsys') == before
    assert not os.path.exists(os.path.join(base, 'joe'))

    # The primary goes away: lookups go on from the standby, changes fail.
    primary.stop()
    try:
        assert standby_answers() == [('jane@example.org',)]
        assert standby.execute(
            "SELECT uid FROM postfix_virtual_uid_map('jane', 'example.org')",
            dbname='mailsys', user='postfix')
        down = both('ua', 'joe@example.org', '-p', 'secret')
        assert down.code == 35 and down.err.count('\n') == 1
        assert both('ui', 'jane@example.org').code == 0
    finally:
        primary.start()
