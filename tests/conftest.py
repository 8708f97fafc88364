"""Shared fixtures: a private PostgreSQL for the session, a fresh database
with the vmm schema for each test, a vmm.cfg pointing at it, and a way to
run the real ``vmm`` entry point."""

import contextlib
import io
import itertools
import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402

pytest_plugins = ['mailservers']

TEMPLATE_DB = 'vmm_template'

# Under CI=true nothing is skipped for want of root or a server: what is
# missing there must fail the run, not hide.
IN_CI = os.environ.get('CI') == 'true'


def skip_unless(condition, reason):
    """Skip where *condition* does not hold, except in CI."""
    return pytest.mark.skipif(not condition and not IN_CI, reason=reason)


def require(condition, reason):
    """The same inside a fixture or a test."""
    if not condition and not IN_CI:
        pytest.skip(reason)
_counter = itertools.count()


@pytest.fixture(scope='session')
def pg():
    """The session's private PostgreSQL server, with a template database
    holding the current schema (created by ``vmm dbupgrade`` itself)."""
    directory = tempfile.mkdtemp(prefix='vmm-test-pg-')
    server = servers.PostgresServer(directory).start()
    server.execute("CREATE ROLE postfix LOGIN PASSWORD 'postfix'")
    server.execute("CREATE ROLE dovecot LOGIN PASSWORD 'dovecot'")
    server.execute("CREATE ROLE opendkim LOGIN PASSWORD 'opendkim'")
    server.execute('CREATE DATABASE %s' % TEMPLATE_DB)
    conn = server.connect(TEMPLATE_DB)
    try:
        from vmm import schema
        with conn, conn.cursor() as cur:
            schema.upgrade(cur)
    finally:
        conn.close()
    server.psql(TEMPLATE_DB, '-v', 'postfix=postfix', '-v', 'dovecot=dovecot',
                '-v', 'opendkim=opendkim',
                '-f', os.path.join(schema.sql_directory(),
                                   'set-permissions.sql'),
                stdout=subprocess.DEVNULL)
    server.postconf = private_postconf(os.path.join(directory, 'postfix'),
                                       server.port)
    yield server
    server.destroy()


def private_postconf(directory, pg_port):
    """A ``postconf`` for vmm.cfg's ``bin.postconf`` that reads the private
    Postfix configuration (the shipped main.cf.example, as the suite's
    private Postfix is configured), never the machine's ``/etc/postfix``.
    Nothing is started: vmm only asks ``postconf -h`` for limits."""
    postfix = servers.PostfixServer(directory, pg_port).configure()
    path = os.path.join(directory, 'postconf')
    with open(path, 'w') as handle:
        handle.write('#!/bin/sh\nexec %s -c %s "$@"\n'
                     % (postfix.postconf_bin, postfix.config_dir))
    os.chmod(path, 0o755)
    return path


class Database:
    """One test's database on the private server."""

    def __init__(self, server, name):
        self.server = server
        self.name = name

    def query(self, sql, params=None, user=None):
        return self.server.execute(sql, params, dbname=self.name, user=user)

    def scalar(self, sql, params=None, user=None):
        rows = self.query(sql, params, user)
        return rows[0][0] if rows else None

    def lookup(self, function, *args, user=None):
        """Rows of one lookup function, as Postfix/Dovecot would see them."""
        placeholders = ', '.join(['%s'] * len(args))
        return self.query('SELECT * FROM %s(%s)' % (function, placeholders),
                          args, user=user)

    def dump(self):
        return self.server.dump_data(self.name)


@pytest.fixture
def db(pg):
    """A fresh database with the current schema and the role grants."""
    name = 'vmm_test_%d_%d' % (os.getpid(), next(_counter))
    pg.execute('CREATE DATABASE %s TEMPLATE %s' % (name, TEMPLATE_DB))
    yield Database(pg, name)
    pg.execute('DROP DATABASE %s WITH (FORCE)' % name)


@pytest.fixture
def mail_base():
    """misc.base_directory: outside pytest's tmp_path, whose parents only
    root may enter, because Dovecot works in homes as the account's uid."""
    import pathlib
    import shutil
    base = tempfile.mkdtemp(prefix='vmm-test-mail-')
    os.chmod(base, 0o711)
    yield pathlib.Path(base)
    shutil.rmtree(base, ignore_errors=True)


def write_config(path, pg, dbname, base, **sections):
    """A vmm.cfg (mode 0600) for the test database; *sections* override."""
    options = {
        'database': {'host': pg.socket_dir, 'port': str(pg.port),
                     'user': pg.superuser, 'name': dbname,
                     'sslmode': 'disable'},
        # No test asks the machine's own Dovecot: doveadm calls for the live
        # server fail at once unless a test names the private Dovecot's file.
        'misc': {'base_directory': str(base),
                 'password_scheme': 'SHA512-CRYPT',
                 'dovecot_config': '/nonexistent/dovecot.conf'},
        'domain': {'auto_postmaster': 'false'},
        'account': {'random_password': 'false'},
        # doveadm reads misc.dovecot_config above, never /etc/dovecot.
        'bin': {'postconf': pg.postconf,
                'doveadm': '/usr/bin/doveadm'},
    }
    for section, values in sections.items():
        options.setdefault(section, {}).update(values)
    with open(path, 'w', encoding='utf-8') as handle:
        for section, values in options.items():
            handle.write('[%s]\n' % section)
            for key, value in values.items():
                handle.write('%s = %s\n' % (key, value))
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture
def config_file(tmp_path, pg, db, mail_base):
    return write_config(tmp_path / 'vmm.cfg', pg, db.name, mail_base)


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return 'Result(code=%r, out=%r, err=%r)' % (self.code, self.out,
                                                    self.err)


class Runner:
    """Runs ``vmm`` through its real entry point ``vmm.cli.main``.

    In-process by default (fast, same code path as the console script);
    ``subprocess=True`` starts the installed ``vmm`` script instead.
    """

    def __init__(self, config):
        self.config = config

    def __call__(self, *args, input=None, env=None, subprocess=False,
                 config=True):
        argv = (['--config', self.config] if config and self.config
                else []) + [str(a) for a in args]
        if subprocess:
            return self._subprocess(argv, input, env)
        return self._inprocess(argv, input, env)

    def _subprocess(self, argv, input, env):
        import subprocess as sp
        full_env = dict(os.environ, **(env or {}))
        proc = sp.run([os.path.join(os.path.dirname(sys.executable), 'vmm')]
                      + argv, input=input, capture_output=True, text=True,
                      env=full_env, timeout=120)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def _inprocess(self, argv, input, env):
        from vmm import cli, i18n
        out, err = io.StringIO(), io.StringIO()
        stdin = io.StringIO(input if input is not None else '')
        saved_env = dict(os.environ)
        os.environ.update(env or {})
        i18n.reset()
        try:
            with contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(err):
                saved_stdin, sys.stdin = sys.stdin, stdin
                try:
                    code = cli.main(argv)
                except SystemExit as exit_:
                    code = exit_.code if isinstance(exit_.code, int) else 1
                finally:
                    sys.stdin = saved_stdin
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            i18n.reset()
        return Result(code or 0, out.getvalue(), err.getvalue())


@pytest.fixture
def vmm(config_file):
    """Run vmm against the test database: ``vmm('da', 'example.org')``."""
    return Runner(config_file)


def take_snapshot(server, dbname, base):
    """The rows of a database (pg_dump --data-only) and a mail tree (paths,
    modes, owners), to compare before and after a command."""
    tree = []
    for root, dirs, files in os.walk(str(base)):
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            st = os.lstat(path)
            tree.append((os.path.relpath(path, str(base)), st.st_mode,
                         st.st_uid, st.st_gid))
    return server.dump_data(dbname), sorted(tree)


@pytest.fixture
def snapshot(db, mail_base):
    """Take the database rows and the mail tree; compare after a failure."""
    return lambda: take_snapshot(db.server, db.name, mail_base)
