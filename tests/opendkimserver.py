"""A private OpenDKIM for the DKIM tests, configured from the shipped
pgsql/opendkim/opendkim.conf: only its milter socket (a free loopback
port), its pid file and the database it reads (the private PostgreSQL's
port and the test role's password) are the test's own."""

import os
import re
import shutil
import signal
import socket
import subprocess

import servers

SHIPPED = os.path.join(servers.REPOSITORY, 'pgsql', 'opendkim')


def shipped_milter_lines(rsa_port, ed25519_port):
    """The Postfix lines of pgsql/opendkim/main.cf.milter, pointed at the
    test's ports instead of the shipped 8891 and 8892."""
    with open(os.path.join(SHIPPED, 'main.cf.milter')) as handle:
        pairs = dict(servers.parse_main_cf(handle.read()))
    return {name: value.replace(':8891', ':%d' % rsa_port)
            .replace(':8892', ':%d' % ed25519_port)
            for name, value in pairs.items()}


class OpenDkimServer:
    """One instance from the shipped *conf* (opendkim.conf or
    opendkim-ed25519.conf), in the foreground, in *directory*."""

    def __init__(self, directory, pg_port, dbname='mailsys',
                 password='opendkim', conf='opendkim.conf'):
        self.conf = conf
        self.directory = os.path.abspath(directory)
        self.port = servers.free_port()
        self.config_file = os.path.join(self.directory, 'opendkim.conf')
        self.pidfile = os.path.join(self.directory, 'opendkim.pid')
        self.pg_port, self.dbname, self.password = pg_port, dbname, password
        self.binary = shutil.which('opendkim') or '/usr/sbin/opendkim'
        self.process = None

    def write_config(self):
        with open(os.path.join(SHIPPED, self.conf)) as handle:
            text = handle.read()
        text = re.sub(r'(?m)^Socket\s.*$',
                      'Socket inet:%d@127.0.0.1' % self.port, text)
        text = re.sub(r'(?m)^PidFile\s.*$', 'PidFile %s' % self.pidfile,
                      text)
        text = text.replace('opendkim:opendkim-secret@5432+127.0.0.1/mailsys',
                            'opendkim:%s@%d+127.0.0.1/%s' % (
                                self.password, self.pg_port, self.dbname))
        assert 'opendkim-secret' not in text, 'shipped DSN lines changed'
        with open(self.config_file, 'w') as handle:
            handle.write(text)
        os.chmod(self.directory, 0o755)

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        self.write_config()
        self.process = subprocess.Popen(
            [self.binary, '-f', '-x', self.config_file],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def listening():
            if self.process.poll() is not None:
                return True
            try:
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                return True
            except OSError:
                return False
        servers.wait_for(listening, 20)
        if self.process.poll() is not None:
            raise RuntimeError('opendkim did not start: %s'
                               % self.process.stdout.read().decode())
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
