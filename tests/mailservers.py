"""Fixtures for tests that need the private Postfix and Dovecot.

Registered by conftest.py (``pytest_plugins = ['mailservers']``).

* ``mailservers`` (session): a ``servers.MailServers`` -- Postfix and
  Dovecot started from the shipped files in pgsql/postfix and
  pgsql/dovecot, reading the database ``mailsys`` of the session's
  PostgreSQL (``pg``) as the roles postfix and dovecot.  Started once,
  stopped at the end of the session (also after failures).
* ``mail_db`` (per test): that database, emptied to the state of a fresh
  ``vmm dbupgrade`` (every table truncated, seed rows and sequences
  restored), and the Postfix queue purged; same API as conftest's ``db``
  (name, query, scalar, lookup, dump).
* ``mail_dir`` (per test): an empty directory below the servers' own
  directory that the accounts' UIDs can reach, should a test want its
  mailboxes there rather than in conftest's ``mail_base``.

A test module that uses them makes conftest's ``vmm``, ``config_file``
and ``snapshot`` fixtures work on the servers' database by overriding
``db``::

    @pytest.fixture
    def db(mail_db):
        return mail_db

When a test that used ``mailservers`` fails, its report gets the Postfix
and Dovecot log lines written during the test.
"""

import itertools
import json
import os
import pathlib
import shutil
import tempfile

import pytest

import servers
from conftest import TEMPLATE_DB, Database

#: The database the private servers read; the shipped files' name.
MAIL_DB = 'mailsys'

_dir_counter = itertools.count()


class MailDatabase(Database):
    """The servers' database; conftest's Database, reset in place."""

    def __init__(self, server, name):
        super().__init__(server, name)
        self._seed = None

    # -- back to a fresh database without dropping it: Postfix and Dovecot
    #    keep their connections.

    def remember_seed(self):
        """Note the rows and sequence positions of the fresh database."""
        conn = self.server.connect(self.name)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("SELECT quote_ident(tablename) FROM pg_tables "
                            "WHERE schemaname = 'public' ORDER BY 1")
                tables = [row[0] for row in cur.fetchall()]
                rows = {}
                for table in tables:
                    cur.execute('SELECT json_agg(t) FROM %s t' % table)
                    data = cur.fetchone()[0]
                    if data:
                        rows[table] = data
                cur.execute("SELECT quote_ident(sequencename), "
                            "start_value, last_value FROM pg_sequences "
                            "WHERE schemaname = 'public'")
                sequences = cur.fetchall()
        finally:
            conn.close()
        self._seed = (tables, rows, sequences)

    def reset(self):
        """Empty every table, restore the seed rows and the sequences, in
        one transaction."""
        tables, rows, sequences = self._seed
        conn = self.server.connect(self.name)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("SET LOCAL lock_timeout = '20s'")
                # Tables created since (by a newer schema) are emptied too.
                cur.execute("SELECT quote_ident(tablename) FROM pg_tables "
                            "WHERE schemaname = 'public'")
                everything = sorted(set(tables)
                                    | {row[0] for row in cur.fetchall()})
                cur.execute('TRUNCATE %s RESTART IDENTITY CASCADE'
                            % ', '.join(everything))
                # Seed rows back as they were: no triggers, no FK checks.
                cur.execute('SET LOCAL session_replication_role = replica')
                for table, data in rows.items():
                    cur.execute('INSERT INTO %s SELECT * FROM '
                                'json_populate_recordset(NULL::%s, %%s)'
                                % (table, table), (json.dumps(data),))
                cur.execute('SET LOCAL session_replication_role = DEFAULT')
                for name, start, last in sequences:
                    if last is None:
                        cur.execute('SELECT setval(%s, %s, false)',
                                    (name, start))
                    else:
                        cur.execute('SELECT setval(%s, %s, true)',
                                    (name, last))
        finally:
            conn.close()


@pytest.fixture(scope='session')
def mailservers(pg):
    """The private Postfix and Dovecot for the session (see module doc)."""
    directory = tempfile.mkdtemp(prefix='vmm-test-mailservers-')
    os.chmod(directory, 0o755)
    mail = None
    try:
        pg.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % MAIL_DB)
        pg.execute('CREATE DATABASE %s TEMPLATE %s' % (MAIL_DB, TEMPLATE_DB))
        database = MailDatabase(pg, MAIL_DB)
        database.remember_seed()
        mail = servers.MailServers(directory, pg, MAIL_DB)
        mail.database = database
        mail.mail_root = os.path.join(directory, 'mail')
        os.makedirs(mail.mail_root, mode=0o755)
        mail.start()
        yield mail
    finally:
        try:
            if mail is not None:
                mail.stop()
        finally:
            try:
                pg.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)'
                           % MAIL_DB)
            finally:
                shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def mail_db(mailservers):
    """The servers' database, fresh for this test (and an empty queue)."""
    mailservers.postfix.purge_queue()
    mailservers.database.reset()
    return mailservers.database


@pytest.fixture
def mail_dir(mailservers):
    """An empty base directory for this test's mailboxes, below a tree the
    accounts' UIDs can traverse."""
    path = os.path.join(mailservers.mail_root, 'base%d' % next(_dir_counter))
    os.mkdir(path)
    os.chmod(path, 0o755)
    return pathlib.Path(path)


@pytest.fixture(autouse=True)
def _mailservers_log_offsets(request):
    """Remember where the servers' logs stood when a test that uses them
    started (for the failure report below)."""
    if 'mailservers' in request.fixturenames:
        mail = request.getfixturevalue('mailservers')
        request.node._vmm_log_offsets = (mail.postfix.log_size(),
                                         mail.dovecot.log_size())
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    offsets = getattr(item, '_vmm_log_offsets', None)
    if offsets is None or not report.failed:
        return
    mail = item.funcargs.get('mailservers')
    if mail is None:
        return
    report.sections.append(('Postfix maillog (this test)',
                            mail.postfix.log(offsets[0])[-20000:]))
    report.sections.append(('Dovecot log (this test)',
                            mail.dovecot.log(offsets[1])[-20000:]))
