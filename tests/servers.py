"""Private server instances for the tests, the demo and the benchmarks.

Each class starts its own copy of a real server in a directory it is
given: its own configuration, sockets, ports on the loopback interface
only, and stops it again.  Nothing here touches the machine's own
PostgreSQL, Postfix or Dovecot.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def pg_bindir():
    """The newest installed PostgreSQL server's bin directory."""
    candidates = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'),
                        key=lambda p: int(p.split('/')[4]))
    if candidates:
        return os.path.dirname(candidates[-1])
    initdb = shutil.which('initdb')
    if initdb:
        return os.path.dirname(os.path.realpath(initdb))
    raise RuntimeError('PostgreSQL server binaries (initdb) not found; '
                       'install the postgresql package')


class PostgresServer:
    """A throwaway PostgreSQL cluster.

    PostgreSQL refuses to run as root, so as root the cluster belongs to
    the unprivileged ``postgres`` user (or *run_as*) and its socket lives
    in a directory that user owns.  Clients connect over the socket in
    ``socket_dir`` or over TCP on 127.0.0.1:``port``, as the superuser
    ``superuser``.  The cluster trusts connections over its socket (it is
    private); over TCP too, unless *host_auth* names a method such as
    ``scram-sha-256``, so that roles must log in with their passwords.
    """

    superuser = 'postgres'

    def __init__(self, directory, run_as='postgres', port=None,
                 host_auth='trust'):
        self.directory = os.path.abspath(directory)
        self.host_auth = host_auth
        self.datadir = os.path.join(self.directory, 'data')
        self.socket_dir = os.path.join(self.directory, 'socket')
        self.logfile = os.path.join(self.directory, 'postgres.log')
        self.port = port or free_port()
        self.bindir = pg_bindir()
        self.owner = pwd.getpwnam(run_as) if os.geteuid() == 0 else None

    def _run(self, *argv, **kwargs):
        argv = [os.path.join(self.bindir, argv[0])] + list(argv[1:])
        if self.owner is not None:
            argv = ['runuser', '-u', self.owner.pw_name, '--'] + argv
        return subprocess.run(argv, check=True, stdin=subprocess.DEVNULL,
                              **kwargs)

    def _mkdir(self, path):
        os.makedirs(path, exist_ok=True)
        if self.owner is not None:
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def init(self, extra_conf=''):
        """Create the cluster if it does not exist yet."""
        self._mkdir(self.directory)
        os.chmod(self.directory, 0o755)
        self._mkdir(self.socket_dir)
        if os.path.exists(os.path.join(self.datadir, 'PG_VERSION')):
            return
        self._run('initdb', '-D', self.datadir, '-U', self.superuser,
                  '--auth-local=trust', '--auth-host=' + self.host_auth,
                  '-E', 'UTF8', '--locale=C.UTF-8',
                  '--no-sync', stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL)
        with open(os.path.join(self.datadir, 'postgresql.conf'), 'a') as f:
            f.write("\nlisten_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\nmax_connections = 200\n"
                    "shared_buffers = 256MB\n%s\n"
                    % (self.socket_dir, extra_conf))

    def start(self):
        self.init()
        self._run('pg_ctl', '-D', self.datadir, '-l', self.logfile,
                  '-o', '-p %d' % self.port, '-w', '-t', '60', 'start',
                  stdout=subprocess.DEVNULL)
        return self

    def stop(self, mode='fast'):
        if os.path.exists(os.path.join(self.datadir, 'postmaster.pid')):
            self._run('pg_ctl', '-D', self.datadir, '-m', mode, '-w',
                      'stop', stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)

    def destroy(self):
        self.stop('immediate')
        shutil.rmtree(self.directory, ignore_errors=True)

    def dsn(self, dbname='postgres', user=None, tcp=False):
        host = '127.0.0.1' if tcp else self.socket_dir
        return 'host=%s port=%d dbname=%s user=%s' % (
            host, self.port, dbname, user or self.superuser)

    def connect(self, dbname='postgres', user=None, tcp=False):
        import psycopg2
        return psycopg2.connect(self.dsn(dbname, user, tcp))

    def execute(self, sql, params=None, dbname='postgres', user=None):
        """Run one statement in autocommit mode; rows if it returns any."""
        conn = self.connect(dbname, user)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def psql(self, dbname, *args, **kwargs):
        argv = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h',
                self.socket_dir, '-p', str(self.port), '-U',
                self.superuser, '-d', dbname] + list(args)
        return subprocess.run(argv, check=True, **kwargs)

    def dump_data(self, dbname):
        """The database's rows as text, for before/after comparisons."""
        out = subprocess.run(
            ['pg_dump', '--data-only', '--inserts', '--no-owner',
             '--no-privileges', '-h', self.socket_dir, '-p', str(self.port),
             '-U', self.superuser, dbname],
            check=True, capture_output=True, text=True).stdout
        # \restrict lines carry a random key that differs every time.
        return [line for line in out.splitlines()
                if line and not line.startswith(
                    ('--', 'SET ', 'SELECT pg_catalog', '\\restrict',
                     '\\unrestrict'))]


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll *predicate* until it returns something true, or time out."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Private Postfix and Dovecot, configured from the files vmm ships in
# pgsql/postfix and pgsql/dovecot.

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_POSTFIX = os.path.join(REPOSITORY, 'pgsql', 'postfix')
SHIPPED_DOVECOT = os.path.join(REPOSITORY, 'pgsql', 'dovecot')


def _binary(name, *dirs):
    for directory in dirs + ('/usr/sbin', '/usr/bin', '/usr/local/sbin',
                             '/usr/local/bin'):
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    path = shutil.which(name)
    if path:
        return path
    raise RuntimeError('%s not found: install Postfix (postfix, postfix-pgsql)'
                       ' and Dovecot (dovecot-core, dovecot-pgsql, '
                       'dovecot-imapd, dovecot-pop3d, dovecot-lmtpd, '
                       'dovecot-sieve, dovecot-managesieved)' % name)


def _need_root(what):
    if os.geteuid() != 0:
        raise RuntimeError('the private %s must be started as root (it '
                           'drops privileges itself)' % what)


def free_ports(count):
    """*count* different free TCP ports on 127.0.0.1."""
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _tail(path, offset=0, limit=20000):
    """The text of *path* from byte *offset*, at most the last *limit*."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return ''
    return data[-limit:].decode('utf-8', 'replace')


def _wait_pid_gone(pidfile, timeout=15.0):
    """Wait until the process named in *pidfile* has exited; kill it (and
    its process group) if it does not."""
    try:
        with open(pidfile) as handle:
            pid = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    if wait_for(gone, timeout):
        return
    for sig in (15, 9):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_for(gone, 5):
            return


def _port_open(port, host='127.0.0.1'):
    """Whether something listens on TCP *host*:*port*, without
    connecting (a connection would start a server process early)."""
    want = '%08X:%04X' % (int.from_bytes(socket.inet_aton(host), 'little'),
                          port)
    try:
        with open('/proc/net/tcp') as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[1] in (want, '00000000:%04X' % port) \
                        and fields[3] == '0A':
                    return True
        return False
    except OSError:
        pass
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _set_cf(text, settings):
    """Replace (or add) ``name = value`` lines of a pgsql:/dovecot-sql
    style file: the first active line of each name, comments kept."""
    lines = text.splitlines()
    done = set()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith('#') or '=' not in stripped:
            continue
        name = stripped.split('=', 1)[0].strip()
        if name in settings and name not in done:
            lines[index] = '%s = %s' % (name, settings[name])
            done.add(name)
    for name, value in settings.items():
        if name not in done:
            lines.append('%s = %s' % (name, value))
    return '\n'.join(lines) + '\n'


def parse_main_cf(text):
    """(name, value) pairs of a main.cf-style text, in order; continuation
    lines (starting with white space) are joined."""
    pairs = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        if line[0].isspace() and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, (value + ' ' + line.strip()).strip())
            continue
        name, _, value = line.partition('=')
        pairs.append((name.strip(), value.strip()))
    return pairs


def wait_for_delivery(path, count=1, timeout=20.0):
    """Wait until the Maildir *path* (or its ``new`` directory) holds at
    least *count* messages in new/ and cur/; return their paths, oldest
    first, or fail with AssertionError."""
    path = str(path)
    if os.path.basename(path.rstrip('/')) == 'new':
        path = os.path.dirname(path.rstrip('/'))

    def messages():
        found = []
        for sub in ('new', 'cur'):
            directory = os.path.join(path, sub)
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            found.extend(os.path.join(directory, name) for name in names
                         if not name.startswith('.'))
        return found
    if not wait_for(lambda: len(messages()) >= count, timeout):
        raise AssertionError('%d message(s) expected in %s, found %d'
                             % (count, path, len(messages())))
    return sorted(messages(), key=lambda p: (os.stat(p).st_mtime, p))


def maildir_messages(path):
    """The messages now in the Maildir *path* (new/ and cur/)."""
    found = []
    for sub in ('new', 'cur'):
        directory = os.path.join(str(path), sub)
        if os.path.isdir(directory):
            found.extend(os.path.join(directory, name)
                         for name in sorted(os.listdir(directory))
                         if not name.startswith('.'))
    return found


class PostfixServer:
    """A private Postfix whose maps are the shipped ``pgsql-*.cf`` files.

    Everything lives in *directory*: ``etc`` (main.cf, master.cf and the
    pgsql-*.cf copies, pointing at the given PostgreSQL over TCP), the
    queue in ``spool``, ``data``, and the log in ``maillog``.  SMTP listens
    on 127.0.0.1:``port`` only.  Must run as root (Postfix starts as root
    and drops to its ``postfix`` user).  Mail for other sites is refused
    (default_transport is error:), so nothing ever leaves the machine.
    """

    mail_owner = 'postfix'
    _senders = None

    def __init__(self, directory, pg_port, dbname='mailsys',
                 pg_host='127.0.0.1', db_user='postfix',
                 db_password='postfix', port=None, shipped=SHIPPED_POSTFIX,
                 extra_main=None):
        self.directory = os.path.abspath(directory)
        self.config_dir = os.path.join(self.directory, 'etc')
        self.queue_dir = os.path.join(self.directory, 'spool')
        self.data_dir = os.path.join(self.directory, 'data')
        self.maillog = os.path.join(self.directory, 'maillog')
        self.pg_host, self.pg_port = pg_host, pg_port
        self.dbname, self.db_user = dbname, db_user
        self.db_password = db_password
        self.port = port or free_port()
        self.shipped = shipped
        self.extra_main = dict(extra_main or {})
        self.hostname = 'mail.vmm-test.invalid'
        self.postfix = _binary('postfix')
        self.postmap = _binary('postmap')
        self.postconf_bin = _binary('postconf')
        self.postqueue = _binary('postqueue')
        self.running = False

    # -- configuration ----------------------------------------------------

    @property
    def lmtp_socket(self):
        """Where Postfix's default vmm transport lmtp:unix:private/
        dovecot-lmtp connects: Dovecot's LMTP listener goes here."""
        return os.path.join(self.queue_dir, 'private', 'dovecot-lmtp')

    @property
    def auth_socket(self):
        """Dovecot's auth listener for smtpd_sasl_path = private/
        dovecot-auth."""
        return os.path.join(self.queue_dir, 'private', 'dovecot-auth')

    def map_names(self):
        """The shipped maps, e.g. ['relay_domains', 'transport_maps', ...]."""
        return sorted(name[len('pgsql-'):-len('.cf')]
                      for name in os.listdir(self.shipped)
                      if name.startswith('pgsql-') and name.endswith('.cf'))

    def map_file(self, mapname):
        """The private copy of pgsql-MAPNAME.cf."""
        if not mapname.startswith('pgsql-'):
            mapname = 'pgsql-%s' % mapname
        if not mapname.endswith('.cf'):
            mapname += '.cf'
        return os.path.join(self.config_dir, mapname)

    def main_cf(self):
        """The private main.cf as (name, value) pairs: the instance's own
        locations, the shipped main.cf.example, then test settings."""
        own = [
            ('compatibility_level', '3.6'),
            ('queue_directory', self.queue_dir),
            ('data_directory', self.data_dir),
            ('mail_owner', self.mail_owner),
            ('setgid_group', 'postdrop'),
            ('myhostname', self.hostname),
            ('mydomain', 'vmm-test.invalid'),
            ('myorigin', '$myhostname'),
            ('mydestination', ''),
            ('inet_interfaces', '127.0.0.1'),
            ('inet_protocols', 'ipv4'),
            ('mynetworks', '127.0.0.0/8'),
            ('maillog_file', self.maillog),
            ('maillog_file_prefixes', self.directory),
            ('syslog_name', 'postfix-vmmtest'),
            ('alias_maps', ''),
            ('alias_database', ''),
            ('local_recipient_maps', ''),
            ('biff', 'no'),
            ('smtputf8_enable', 'no'),
        ]
        with open(os.path.join(self.shipped, 'main.cf.example')) as handle:
            shipped = parse_main_cf(handle.read())
        test = [
            # Nothing leaves this machine.
            ('default_transport',
             'error:5.7.1 no mail leaves the vmm test server'),
            ('smtp_tls_security_level', 'none'),
            ('lmtp_tls_security_level', 'none'),
            ('smtpd_tls_security_level', 'none'),
            # No TLS on loopback: allow AUTH without it.
            ('smtpd_tls_auth_only', 'no'),
            # Fast answers, fast retries.
            ('smtpd_error_sleep_time', '0'),
            ('smtpd_soft_error_limit', '1000'),
            ('smtpd_hard_error_limit', '1000'),
            ('smtpd_junk_command_limit', '1000'),
            ('in_flow_delay', '0'),
            ('queue_run_delay', '2s'),
            ('minimal_backoff_time', '2s'),
            ('maximal_backoff_time', '4s'),
            ('delay_warning_time', '0'),
            ('smtpd_client_connection_count_limit', '0'),
            ('smtpd_client_connection_rate_limit', '0'),
            ('smtpd_client_message_rate_limit', '0'),
            ('smtpd_client_recipient_rate_limit', '0'),
            ('anvil_rate_time_unit', '1s'),
        ] + sorted(self.extra_main.items())
        return own + shipped + test

    def master_cf(self):
        chroot_n = [
            ('%s:%d' % ('127.0.0.1', self.port), 'inet', 'n', '-', 'n', '-',
             '-', 'smtpd'),
            ('pickup', 'unix', 'n', '-', 'n', '60', '1', 'pickup'),
            ('cleanup', 'unix', 'n', '-', 'n', '-', '0', 'cleanup'),
            ('qmgr', 'unix', 'n', '-', 'n', '300', '1', 'qmgr'),
            ('tlsmgr', 'unix', '-', '-', 'n', '1000?', '1', 'tlsmgr'),
            ('rewrite', 'unix', '-', '-', 'n', '-', '-', 'trivial-rewrite'),
            ('bounce', 'unix', '-', '-', 'n', '-', '0', 'bounce'),
            ('defer', 'unix', '-', '-', 'n', '-', '0', 'bounce'),
            ('trace', 'unix', '-', '-', 'n', '-', '0', 'bounce'),
            ('verify', 'unix', '-', '-', 'n', '-', '1', 'verify'),
            ('flush', 'unix', 'n', '-', 'n', '1000?', '0', 'flush'),
            ('proxymap', 'unix', '-', '-', 'n', '-', '-', 'proxymap'),
            ('proxywrite', 'unix', '-', '-', 'n', '-', '1', 'proxymap'),
            ('smtp', 'unix', '-', '-', 'n', '-', '-', 'smtp'),
            ('relay', 'unix', '-', '-', 'n', '-', '-', 'smtp'),
            ('showq', 'unix', 'n', '-', 'n', '-', '-', 'showq'),
            ('error', 'unix', '-', '-', 'n', '-', '-', 'error'),
            ('retry', 'unix', '-', '-', 'n', '-', '-', 'error'),
            ('discard', 'unix', '-', '-', 'n', '-', '-', 'discard'),
            ('local', 'unix', '-', 'n', 'n', '-', '-', 'local'),
            ('virtual', 'unix', '-', 'n', 'n', '-', '-', 'virtual'),
            ('lmtp', 'unix', '-', '-', 'n', '-', '-', 'lmtp'),
            ('anvil', 'unix', '-', '-', 'n', '-', '1', 'anvil'),
            ('scache', 'unix', '-', '-', 'n', '-', '1', 'scache'),
            ('postlog', 'unix-dgram', 'n', '-', 'n', '-', '1', 'postlogd'),
        ]
        return ''.join('%-18s %-10s %-3s %-3s %-3s %-6s %-3s %s\n' % row
                       for row in chroot_n)

    def configure(self):
        """Write the private configuration (again)."""
        owner = pwd.getpwnam(self.mail_owner)
        for path in (self.directory, self.config_dir, self.queue_dir):
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o755)
        os.makedirs(self.data_dir, exist_ok=True)
        os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
        os.chmod(self.data_dir, 0o700)
        # Dovecot's sockets go into private/: create it as Postfix would,
        # so either server may start first.
        private = os.path.join(self.queue_dir, 'private')
        os.makedirs(private, exist_ok=True)
        os.chown(private, owner.pw_uid, -1)
        os.chmod(private, 0o700)
        with open(os.path.join(self.config_dir, 'main.cf'), 'w') as handle:
            handle.write('# private vmm test instance: generated\n')
            settings = {}
            for name, value in self.main_cf():
                settings[name] = value      # a later value wins
            for name, value in settings.items():
                handle.write('%s = %s\n' % (name, value))
        with open(os.path.join(self.config_dir, 'master.cf'), 'w') as handle:
            handle.write(self.master_cf())
        settings = {'hosts': 'inet:%s:%d' % (self.pg_host, self.pg_port),
                    'user': self.db_user, 'password': self.db_password,
                    'dbname': self.dbname}
        for mapname in self.map_names():
            with open(os.path.join(self.shipped,
                                   'pgsql-%s.cf' % mapname)) as handle:
                text = _set_cf(handle.read(), settings)
            path = self.map_file(mapname)
            with open(path, 'w') as handle:
                handle.write(text)
            os.chown(path, 0, owner.pw_gid)
            os.chmod(path, 0o640)
        return self

    # -- running ----------------------------------------------------------

    def _run(self, *argv, check=True, timeout=60, **kwargs):
        kwargs.setdefault('stdin', subprocess.DEVNULL)
        return subprocess.run(list(argv), check=check, timeout=timeout,
                              **kwargs)

    def postconf(self, *args):
        """``postconf -c DIR ARGS``; its output."""
        return self._run(self.postconf_bin, '-c', self.config_dir, *args,
                         capture_output=True, text=True).stdout

    def start(self):
        _need_root('Postfix')
        self.configure()
        log_offset = os.path.getsize(self.maillog) \
            if os.path.exists(self.maillog) else 0
        # Output detached: the daemons must not hold a pipe of ours open.
        with open(os.path.join(self.directory, 'postfix.out'), 'ab') as out:
            proc = self._run(self.postfix, '-c', self.config_dir, 'start',
                             check=False, stdout=out, stderr=out)
        self.running = True
        if proc.returncode != 0 or not wait_for(
                lambda: _port_open(self.port), 20):
            message = ('private Postfix did not start (exit %s):\n%s\n%s'
                       % (proc.returncode,
                          _tail(os.path.join(self.directory, 'postfix.out')),
                          _tail(self.maillog, log_offset)))
            self.stop()
            raise RuntimeError(message)
        return self

    @property
    def pidfile(self):
        return os.path.join(self.queue_dir, 'pid', 'master.pid')

    def stop(self):
        if not os.path.exists(self.pidfile):
            self.running = False
            return
        with open(os.path.join(self.directory, 'postfix.out'), 'ab') as out:
            self._run(self.postfix, '-c', self.config_dir, 'stop',
                      check=False, stdout=out, stderr=out)
        _wait_pid_gone(self.pidfile)
        self.running = False

    def reload(self):
        self.configure()
        with open(os.path.join(self.directory, 'postfix.out'), 'ab') as out:
            self._run(self.postfix, '-c', self.config_dir, 'reload',
                      stdout=out, stderr=out)

    def purge_queue(self):
        """Delete every message in the queue (between tests)."""
        self._run(_binary('postsuper'), '-c', self.config_dir, '-d', 'ALL',
                  capture_output=True)

    def flush(self):
        """Retry deferred mail now."""
        self._run(self.postqueue, '-c', self.config_dir, '-f',
                  capture_output=True)

    def queue(self):
        """The queue as postqueue -j gives it: a list of dicts."""
        import json
        out = self._run(self.postqueue, '-c', self.config_dir, '-j',
                        capture_output=True, text=True).stdout
        return [json.loads(line) for line in out.splitlines() if line]

    def postmap_query(self, mapname, key):
        """What Postfix's pgsql client answers for KEY from pgsql-MAPNAME.cf
        (``postmap -q``): the value string, or None when not found."""
        proc = self._run(self.postmap, '-c', self.config_dir, '-q', key,
                         'pgsql:%s' % self.map_file(mapname), check=False,
                         capture_output=True, text=True)
        if proc.returncode == 1 and 'fatal:' not in proc.stderr \
                and 'error:' not in proc.stderr:
            return None
        if proc.returncode != 0:
            raise RuntimeError('postmap -q %s pgsql:%s: exit %d: %s'
                               % (key, self.map_file(mapname),
                                  proc.returncode, proc.stderr.strip()))
        return proc.stdout.rstrip('\n')

    # -- the log ------------------------------------------------------------

    def log(self, offset=0):
        return _tail(self.maillog, offset, limit=10 ** 8)

    def log_size(self):
        try:
            return os.path.getsize(self.maillog)
        except OSError:
            return 0

    def wait_for_log(self, pattern, timeout=20.0, offset=0):
        """The first match of the regular expression *pattern* in the
        maillog (from byte *offset*), waiting for it; AssertionError when it
        does not appear."""
        import re
        regex = re.compile(pattern)
        match = wait_for(lambda: regex.search(self.log(offset)), timeout)
        if not match:
            raise AssertionError('%r not in the Postfix log:\n%s'
                                 % (pattern, self.log(offset)[-5000:]))
        return match

    def delivery_status(self, queue_id, timeout=30.0):
        """Wait until Postfix is done with message *queue_id* (removed from
        the queue, or deferred) and return one dict per delivery attempt
        logged: to, orig_to, relay, status (sent/bounced/deferred/...),
        text (the reply in parentheses)."""
        import re
        qid = re.escape(queue_id)
        done = re.compile(r'%s: (removed|.*status=deferred)' % qid)
        if not wait_for(lambda: done.search(self.log()), timeout):
            raise AssertionError('Postfix did not finish %s:\n%s'
                                 % (queue_id, self.log()[-5000:]))
        line_re = re.compile(
            r'%s: to=<([^>]*)>,(?: orig_to=<([^>]*)>,)? relay=([^,]*),.*?'
            r' status=(\w+) \((.*)\)$' % qid, re.M)
        return [dict(to=m.group(1), orig_to=m.group(2), relay=m.group(3),
                     status=m.group(4), text=m.group(5))
                for m in line_re.finditer(self.log())]

    # -- SMTP ---------------------------------------------------------------

    def stranger(self):
        """A sender address nobody used before (outside vmm's domains).

        smtpd caches how it resolved a sender/recipient pair (relocated_maps
        answers included) for the life of the process, so a test that
        changes a recipient's data and asks again must use a new sender.
        """
        import itertools
        if PostfixServer._senders is None:
            PostfixServer._senders = itertools.count(1)
        return 'sender%d-%d@external.test' % (os.getpid(),
                                               next(PostfixServer._senders))

    def smtp(self, login=None, password=None, timeout=15):
        """An ``smtplib.SMTP`` connected to the private port, EHLO done,
        logged in when *login* is given (SMTPAuthenticationError if not
        accepted)."""
        import smtplib
        conn = smtplib.SMTP('127.0.0.1', self.port, timeout=timeout,
                            local_hostname='client.vmm-test.invalid')
        try:
            conn.ehlo()
            if login is not None:
                conn.login(login, password)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def make_message(sender, recipients, subject='vmm test', body='Hello.\n',
                     headers=None, size=None):
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid
        msg = EmailMessage()
        msg['From'] = sender or 'MAILER-DAEMON@vmm-test.invalid'
        msg['To'] = ', '.join(recipients)
        msg['Subject'] = subject
        msg['Date'] = formatdate(localtime=True)
        msg['Message-ID'] = make_msgid(domain='vmm-test.invalid')
        for name, value in (headers or {}).items():
            msg[name] = value
        if size is not None and len(body) < size:
            body += ('x' * 75 + '\n') * ((size - len(body)) // 76 + 1)
        msg.set_content(body)
        return msg.as_bytes()

    def smtp_send(self, sender, recipients, message=None, *,
                  subject='vmm test', body='Hello.\n', headers=None,
                  size=None, login=None, password=None):
        """Send one message through the private smtpd and return its queue
        id.  A refused sender or recipient raises smtplib's
        SMTPSenderRefused / SMTPRecipientsRefused (with the server's reply,
        nothing queued); a refused DATA raises SMTPDataError."""
        import re
        import smtplib
        if isinstance(recipients, str):
            recipients = [recipients]
        if message is None:
            message = self.make_message(sender, recipients, subject, body,
                                        headers, size)
        elif isinstance(message, str):
            message = message.encode('utf-8')
        with self.smtp(login, password) as conn:
            code, reply = conn.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            refused = {}
            for rcpt in recipients:
                code, reply = conn.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, reply)
            if refused:
                conn.rset()
                raise smtplib.SMTPRecipientsRefused(refused)
            code, reply = conn.data(message)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        match = re.search(rb'queued as ([0-9A-Za-z]+)', reply)
        return match.group(1).decode() if match else None

    def rcpt_check(self, sender, recipient, login=None, password=None):
        """(code, reply text) of RCPT TO for *recipient* after MAIL FROM
        *sender*; nothing is sent."""
        with self.smtp(login, password) as conn:
            code, reply = conn.mail(sender)
            if code == 250:
                code, reply = conn.rcpt(recipient)
            conn.rset()
        return code, reply.decode('utf-8', 'replace')

    def can_login(self, user, password):
        """Whether SMTP AUTH accepts *user*/*password*."""
        import smtplib
        try:
            self.smtp(user, password).quit()
        except smtplib.SMTPAuthenticationError:
            return False
        return True


class DovecotServer:
    """A private Dovecot configured from the shipped
    ``dovecot-sql.conf.ext``, ``dovecot-dict-sql.conf.ext`` and
    ``vmm.conf.example``.

    Everything lives in *directory*: the configuration (``dovecot.conf``
    and the SQL files, pointing at the given PostgreSQL over TCP as role
    dovecot), ``run`` (base_dir), ``state`` (state_dir), ``dovecot.log``.
    IMAP, POP3 and ManageSieve listen on 127.0.0.1 ports; LMTP and the
    auth socket for Postfix are unix sockets at the paths given (normally
    the private Postfix's ``lmtp_socket`` and ``auth_socket``).  Plaintext
    logins, no SSL: loopback only.  Must run as root.
    """

    def __init__(self, directory, pg_port, dbname='mailsys',
                 pg_host='127.0.0.1', db_user='dovecot',
                 db_password='dovecot', lmtp_socket=None, auth_socket=None,
                 socket_user='postfix', shipped=SHIPPED_DOVECOT,
                 imap_port=None, pop3_port=None, sieve_port=None,
                 submission_port=None, relay_port=None, extra_conf=''):
        self.directory = os.path.abspath(directory)
        self.config_file = os.path.join(self.directory, 'dovecot.conf')
        self.sql_file = os.path.join(self.directory, 'dovecot-sql.conf.ext')
        self.dict_file = os.path.join(self.directory,
                                      'dovecot-dict-sql.conf.ext')
        self.base_dir = os.path.join(self.directory, 'run')
        self.state_dir = os.path.join(self.directory, 'state')
        self.logfile = os.path.join(self.directory, 'dovecot.log')
        self.pg_host, self.pg_port = pg_host, pg_port
        self.dbname, self.db_user = dbname, db_user
        self.db_password = db_password
        self.lmtp_socket = lmtp_socket or os.path.join(self.base_dir,
                                                       'lmtp-vmm')
        self.auth_socket = auth_socket or os.path.join(self.base_dir,
                                                       'auth-vmm')
        self.socket_user = socket_user
        self.shipped = shipped
        self.imap_port = imap_port or free_port()
        self.pop3_port = pop3_port or free_port()
        self.sieve_port = sieve_port or free_port()
        self.submission_port = submission_port or free_port()
        # Dovecot's submission service hands mail on to this SMTP port
        # (the private Postfix's).
        self.relay_port = relay_port or free_port()
        self.extra_conf = extra_conf
        self.dovecot = _binary('dovecot')
        self.doveadm_bin = _binary('doveadm')

    # -- configuration ----------------------------------------------------

    def connect_string(self):
        return 'host=%s port=%d dbname=%s user=%s password=%s' % (
            self.pg_host, self.pg_port, self.dbname, self.db_user,
            self.db_password)

    def shipped_conf(self):
        """vmm.conf.example with the paths of this instance."""
        with open(os.path.join(self.shipped, 'vmm.conf.example')) as handle:
            text = handle.read()
        return (text
                .replace('/var/spool/postfix/private/dovecot-lmtp',
                         self.lmtp_socket)
                .replace('/var/spool/postfix/private/dovecot-auth',
                         self.auth_socket)
                .replace('/etc/dovecot/dovecot-sql.conf.ext', self.sql_file)
                .replace('/etc/dovecot/dovecot-dict-sql.conf.ext',
                         self.dict_file))

    def configure(self):
        for path in (self.directory, self.base_dir, self.state_dir):
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o755)
        dovecot_gid = pwd.getpwnam('dovecot').pw_gid
        for name, target in (('dovecot-sql.conf.ext', self.sql_file),
                             ('dovecot-dict-sql.conf.ext', self.dict_file)):
            with open(os.path.join(self.shipped, name)) as handle:
                text = _set_cf(handle.read(),
                               {'connect': self.connect_string()})
            with open(target, 'w') as handle:
                handle.write(text)
            os.chown(target, 0, dovecot_gid)
            os.chmod(target, 0o640)
        with open(self.config_file, 'w') as handle:
            handle.write(self.config_text())
        return self

    def config_text(self):
        head = """\
# private vmm test instance: generated
base_dir = %(base_dir)s
state_dir = %(state_dir)s
instance_name = vmm-test-%(imap_port)d
log_path = %(logfile)s
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_internal_user = dovecot
default_login_user = dovenull
postmaster_address = postmaster@vmm-test.invalid
hostname = mail.vmm-test.invalid

# ---- the shipped vmm.conf.example, paths adjusted ----
""" % self.__dict__
        tail = """
# ---- test instance overrides ----
postmaster_address = postmaster@vmm-test.invalid
# Every client is 127.0.0.1: no growing delay after failed logins (the
# auth penalty), or one test's wrong password slows all that follow.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %(imap_port)d
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %(pop3_port)d
  }
  inet_listener pop3s {
    port = 0
  }
}
service managesieve-login {
  inet_listener sieve {
    address = 127.0.0.1
    port = %(sieve_port)d
  }
}
protocols = $protocols submission
submission_relay_host = 127.0.0.1
submission_relay_port = %(relay_port)d
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = %(submission_port)d
  }
}
service lmtp {
  unix_listener %(lmtp_socket)s {
    user = %(socket_user)s
    group =
    mode = 0600
  }
}
service auth {
  unix_listener %(auth_socket)s {
    user = %(socket_user)s
    group =
    mode = 0600
  }
}
%(extra_conf)s
""" % self.__dict__
        return head + self.shipped_conf() + tail

    # -- running ----------------------------------------------------------

    @property
    def pidfile(self):
        return os.path.join(self.base_dir, 'master.pid')

    def start(self):
        _need_root('Dovecot')
        self.configure()
        offset = os.path.getsize(self.logfile) \
            if os.path.exists(self.logfile) else 0
        out_path = os.path.join(self.directory, 'dovecot.out')
        with open(out_path, 'ab') as out:
            proc = subprocess.run([self.dovecot, '-c', self.config_file],
                                  stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=out, timeout=60)
        ports = (self.imap_port, self.pop3_port, self.sieve_port,
                 self.submission_port)
        if proc.returncode != 0 or not wait_for(
                lambda: all(_port_open(p) for p in ports)
                and os.path.exists(self.lmtp_socket), 20):
            message = ('private Dovecot did not start (exit %s):\n%s\n%s'
                       % (proc.returncode, _tail(out_path),
                          _tail(self.logfile, offset)))
            self.stop()
            raise RuntimeError(message)
        return self

    def stop(self):
        if not os.path.exists(self.pidfile):
            return
        subprocess.run([self.doveadm_bin, '-c', self.config_file, 'stop'],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        _wait_pid_gone(self.pidfile)

    def reload(self):
        self.configure()
        self.doveadm('reload')

    def doveadm(self, *args, check=True, input=None):
        """``doveadm -c CONFIG ARGS``; the CompletedProcess (text)."""
        proc = subprocess.run([self.doveadm_bin, '-c', self.config_file]
                              + [str(a) for a in args], input=input,
                              capture_output=True, text=True, timeout=60,
                              stdin=None if input is not None
                              else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise RuntimeError('doveadm %s: exit %d: %s%s'
                               % (' '.join(map(str, args)), proc.returncode,
                                  proc.stdout, proc.stderr))
        return proc

    def auth_test(self, user, password, service='imap'):
        """Whether ``doveadm auth test`` accepts the login for *service*
        (None: no ``-x service=``, so doveadm's own name "doveadm").

        Anything but success or a plain refusal raises, such as a
        temporary failure (exit 77 too, but "code=temp_fail" in the extra
        fields: what an SQL error in password_query gives) or no answer
        from the auth socket.
        """
        extra = [] if service is None else ['-x', 'service=%s' % service]
        proc = self.doveadm('auth', 'test', *extra, user, password,
                            check=False)
        answer = 'auth succeeded' if proc.returncode == 0 else 'auth failed'
        if proc.returncode not in (0, 77) or answer not in proc.stdout \
                or 'temp_fail' in proc.stdout:
            raise RuntimeError('doveadm auth test: exit %d: %s%s'
                               % (proc.returncode, proc.stdout, proc.stderr))
        return proc.returncode == 0

    def log(self, offset=0):
        return _tail(self.logfile, offset, limit=10 ** 8)

    def log_size(self):
        try:
            return os.path.getsize(self.logfile)
        except OSError:
            return 0

    wait_for_delivery = staticmethod(wait_for_delivery)

    # -- clients ------------------------------------------------------------

    def imap_login(self, user, password, timeout=15):
        """An ``imaplib.IMAP4`` logged in as *user*; imaplib.IMAP4.error
        when the login is refused."""
        import imaplib
        conn = imaplib.IMAP4('127.0.0.1', self.imap_port, timeout=timeout)
        try:
            conn.login(user, password)
        except BaseException:
            try:
                conn.logout()
            except Exception:
                pass
            raise
        return conn

    def pop3_login(self, user, password, timeout=15):
        """A ``poplib.POP3`` logged in as *user*; poplib.error_proto when
        refused."""
        import poplib
        conn = poplib.POP3('127.0.0.1', self.pop3_port, timeout=timeout)
        try:
            conn.user(user)
            conn.pass_(password)
        except BaseException:
            try:
                conn.quit()
            except Exception:
                pass
            raise
        return conn

    def managesieve_login(self, user, password, timeout=15):
        """Whether ManageSieve (AUTHENTICATE PLAIN) accepts the login."""
        import base64
        with socket.create_connection(('127.0.0.1', self.sieve_port),
                                      timeout=timeout) as sock:
            reader = sock.makefile('rb')

            def response():
                while True:
                    line = reader.readline()
                    if not line:
                        raise EOFError('ManageSieve closed the connection')
                    if line.startswith((b'OK', b'NO', b'BYE')):
                        return line
            response()
            token = base64.b64encode(('\0%s\0%s' % (user, password))
                                     .encode('utf-8')).decode('ascii')
            sock.sendall(b'AUTHENTICATE "PLAIN" "%s"\r\n'
                         % token.encode('ascii'))
            ok = response().startswith(b'OK')
            sock.sendall(b'LOGOUT\r\n')
            return ok

    def submission_login(self, user, password, timeout=15):
        """Whether Dovecot's submission service (SMTP AUTH PLAIN) accepts
        the login."""
        import smtplib
        with smtplib.SMTP('127.0.0.1', self.submission_port,
                          timeout=timeout,
                          local_hostname='client.vmm-test.invalid') as conn:
            conn.ehlo()
            try:
                conn.login(user, password)
            except smtplib.SMTPAuthenticationError:
                return False
            return True

    def can_login(self, protocol, user, password):
        """Whether *protocol* ('imap', 'pop3', 'sieve', 'submission')
        accepts the login."""
        import imaplib
        import poplib
        if protocol == 'sieve':
            return self.managesieve_login(user, password)
        if protocol == 'submission':
            return self.submission_login(user, password)
        try:
            if protocol == 'imap':
                self.imap_login(user, password).logout()
            elif protocol == 'pop3':
                self.pop3_login(user, password).quit()
            else:
                raise ValueError(protocol)
        except (imaplib.IMAP4.error, poplib.error_proto):
            return False
        return True


class MailServers:
    """A private Postfix and Dovecot wired together and to one database of
    a PostgresServer: Postfix delivers through Dovecot's LMTP socket in its
    own queue directory (vmm's default transport lmtp:unix:private/
    dovecot-lmtp) and authenticates SMTP clients through Dovecot.

        with MailServers(tmpdir, pg, 'mailsys') as mail:
            mail.postfix.smtp_send(...)

    The database must hold the vmm schema and the grants of
    set-permissions.sql for the roles postfix and dovecot (whose passwords
    are given; a private PostgresServer trusts them anyway).
    """

    def __init__(self, directory, pg, dbname='mailsys',
                 postfix_password='postfix', dovecot_password='dovecot',
                 postfix_main=None, dovecot_conf=''):
        self.directory = os.path.abspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        # Mail processes run as the accounts' UIDs: they must reach homes
        # below this directory.
        os.chmod(self.directory, 0o755)
        self.pg = pg
        self.dbname = dbname
        smtp, imap, pop3, sieve, submission = free_ports(5)
        self.postfix = PostfixServer(
            os.path.join(self.directory, 'postfix'), pg.port, dbname,
            db_password=postfix_password, port=smtp,
            extra_main=postfix_main)
        self.dovecot = DovecotServer(
            os.path.join(self.directory, 'dovecot'), pg.port, dbname,
            db_password=dovecot_password,
            lmtp_socket=self.postfix.lmtp_socket,
            auth_socket=self.postfix.auth_socket,
            imap_port=imap, pop3_port=pop3, sieve_port=sieve,
            submission_port=submission, relay_port=smtp,
            extra_conf=dovecot_conf)

    def start(self):
        self.postfix.start()
        try:
            self.dovecot.start()
        except BaseException:
            self.postfix.stop()
            raise
        return self

    def stop(self):
        try:
            self.dovecot.stop()
        finally:
            self.postfix.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def logs(self, postfix_offset=0, dovecot_offset=0, limit=8000):
        """The tails of both logs, for a failure report."""
        return ('--- Postfix maillog ---\n%s\n--- Dovecot log ---\n%s'
                % (self.postfix.log(postfix_offset)[-limit:],
                   self.dovecot.log(dovecot_offset)[-limit:]))
