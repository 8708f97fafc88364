"""Upgrading a live vmm 0.6/0.7 database (UPGRADE).

vmm 0.7's schema comes from Debian's package at test time (``apt-get
download vmm``, ``dpkg -x``); nothing of it is kept in the repository.  A
0.7 database is created from it on the private server, filled with data
that uses every feature, asked every lookup question vmm 0.7 answers (by
calling its functions and through the very queries its shipped Postfix and
Dovecot files send, as the postfix and dovecot roles), upgraded, and asked
again.
"""

import glob
import gzip
import os
import re
import subprocess

import psycopg2
import pytest

from vmm import schema
from vmm.errors import DatabaseError

from conftest import Runner, write_config

# ---------------------------------------------------------------------------
# vmm 0.7, from Debian
# ---------------------------------------------------------------------------

DOC = os.path.join('usr', 'share', 'doc', 'vmm')


class Vmm07:
    """The unpacked Debian package."""

    def __init__(self, root, schema_file):
        self.root = root
        self.schema_file = schema_file

    def doc(self, *parts):
        return os.path.join(self.root, DOC, *parts)


@pytest.fixture(scope='session')
def vmm07(tmp_path_factory):
    """Debian's vmm 0.7 package, downloaded and unpacked once a session.

    Its create_tables.pgsql says ``CREATE LANGUAGE plpgsql``, which fails
    on every PostgreSQL since 9.0 (plpgsql is built in); a copy without
    that statement is what the tests load."""
    work = tmp_path_factory.mktemp('vmm07')
    try:
        proc = subprocess.run(['apt-get', 'download', 'vmm'], cwd=work,
                              capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.fail('cannot run apt-get download vmm: %s' % err)
    debs = glob.glob(os.path.join(work, 'vmm_*.deb'))
    if proc.returncode or not debs:
        pytest.fail('apt-get download vmm failed (is Debian bookworm in '
                    'sources.list, and apt-get update done?):\n%s'
                    % (proc.stderr or proc.stdout))
    version = subprocess.run(['dpkg-deb', '-f', debs[0], 'Version'],
                             capture_output=True, text=True,
                             check=True).stdout.strip()
    assert version.startswith('0.7'), version
    root = os.path.join(work, 'x')
    subprocess.run(['dpkg', '-x', debs[0], root], check=True)
    original = os.path.join(root, DOC, 'examples', 'pgsql',
                            'create_tables.pgsql')
    with open(original, encoding='utf-8') as handle:
        text = handle.read()
    text, count = re.subn(r'^\s*CREATE\s+LANGUAGE\s+plpgsql\s*;\s*$', '',
                          text, flags=re.M | re.I)
    assert count == 1
    loadable = os.path.join(work, 'create_tables-0.7.pgsql')
    with open(loadable, 'w', encoding='utf-8') as handle:
        handle.write(text)
    return Vmm07(root, loadable)


@pytest.fixture(scope='session')
def owner(pg):
    """The role that owns the vmm tables, as vmm 0.7's INSTALL has it."""
    pg.execute("DO $$ BEGIN CREATE ROLE vmm LOGIN; "
               "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    return 'vmm'


# What vmm 0.7's set-permissions.py grants (PostgreSQL >= 8.4, Dovecot
# >= 1.2): table and column SELECT for the roles postfix and dovecot.
GRANTS_07 = [
    'GRANT SELECT, INSERT, UPDATE, DELETE ON userquota TO dovecot',
    'GRANT SELECT ON mailboxformat, maillocation, service_set, quotalimit '
    'TO dovecot',
    'GRANT SELECT ON alias, catchall, postfix_gid, relocated, transport '
    'TO postfix',
    'GRANT SELECT (domaindir, gid, qid, ssid) ON domain_data TO dovecot',
    'GRANT SELECT (domainname, gid) ON domain_name TO dovecot',
    'GRANT SELECT (gid, local_part, mid, passwd, qid, ssid, uid) ON users '
    'TO dovecot',
    'GRANT SELECT (domaindir, gid, tid) ON domain_data TO postfix',
    'GRANT SELECT (domainname, gid) ON domain_name TO postfix',
    'GRANT SELECT (directory, mid) ON maillocation TO postfix',
    'GRANT SELECT (gid, local_part, mid, tid, uid) ON users TO postfix',
]

# The layout of vmm 0.6 for Dovecot < 1.2 (its create_tables.pgsql, or
# 0.6's update scripts): service_set.managesieve, dict quota in
# userquota_11 (uid, path, current), no note columns in databases that
# came from 0.5, users.qid/ssid/tid NOT NULL DEFAULT 1, and 0.5's typo in
# the users primary key's name.
LAYOUT_06 = r"""
DROP FUNCTION dovecotpassword(varchar, varchar);
DROP TYPE dovecotpassword;
CREATE TYPE dovecotpassword AS (userid varchar(320), password varchar(270),
    smtp boolean, pop3 boolean, imap boolean, managesieve boolean);
ALTER TABLE service_set RENAME COLUMN sieve TO managesieve;
DROP TABLE userquota;
DROP FUNCTION merge_userquota();
CREATE TABLE userquota_11 (
    uid bigint NOT NULL, path varchar(16) NOT NULL,
    current bigint NOT NULL DEFAULT 0,
    CONSTRAINT pkey_userquota_11 PRIMARY KEY (uid, path),
    CONSTRAINT fkey_userquota_11_uid_users FOREIGN KEY (uid)
        REFERENCES users (uid) ON DELETE CASCADE);
CREATE FUNCTION merge_userquota_11() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE userquota_11 SET current = current + NEW.current
     WHERE uid = NEW.uid AND path = NEW.path;
    IF FOUND THEN RETURN NULL; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER mergeuserquota_11 BEFORE INSERT ON userquota_11
    FOR EACH ROW EXECUTE PROCEDURE merge_userquota_11();
ALTER TABLE domain_data DROP COLUMN note;
ALTER TABLE users DROP COLUMN note;
ALTER TABLE users ALTER COLUMN qid SET DEFAULT 1,
    ALTER COLUMN ssid SET DEFAULT 1, ALTER COLUMN tid SET DEFAULT 1,
    ALTER COLUMN qid SET NOT NULL, ALTER COLUMN ssid SET NOT NULL,
    ALTER COLUMN tid SET NOT NULL;
ALTER TABLE users RENAME CONSTRAINT pkey_users TO pkye_users;
UPDATE transport SET transport = 'dovecot:' WHERE tid = 1;
"""

# ---------------------------------------------------------------------------
# The data: every feature of vmm 0.7
# ---------------------------------------------------------------------------

SHA512 = ('{SHA512-CRYPT}$6$rounds=5000$Qm3wRUvyYUOhWuhs$WJ9Aqq5BmOaF.3Z6z8'
          'cTB0hvl5bAYiLWdLr7Upc4G5u0N7pmI0pIt0LPKmu8VHtHz3Xb3qKkaPPzmSqlE'
          'x4tD0')

# transports 2, 3; quota limits 2, 3; mail locations 2 (mdbox), 3 (sdbox),
# 4 (maildir in "Mail"); service sets: 3 = no pop3, 9 = no sieve,
# 16 = nothing (vmm 0.7 inserts all 16 combinations, smtp varying fastest).
DATA_07 = r"""
INSERT INTO transport (transport) VALUES
    ('smtp:[relay.example.net]:587'), ('virtual:');
INSERT INTO quotalimit (bytes, messages) VALUES
    (1073741824, 0), (524288000, 10000);
INSERT INTO maillocation (fid, directory) VALUES
    (2, 'mdbox'), (3, 'sdbox'), (1, 'Mail');

INSERT INTO domain_data (gid, qid, ssid, tid, domaindir) VALUES
    (nextval('domain_gid'), 2, 1, 1, '/srv/mail/5/70000'),
    (nextval('domain_gid'), 3, 9, 2, '/srv/mail/a/70001'),
    (nextval('domain_gid'), 1, 1, 3, '/srv/mail/0/70002'),
    (nextval('domain_gid'), 1, 1, 1, '/srv/mail/f/70003'),
    (75000, 1, 16, 1, '/srv/mail/3/75000');
INSERT INTO domain_name (domainname, gid, is_primary) VALUES
    ('example.org', 70000, TRUE),
    ('example.net', 70000, FALSE),
    ('xn--bcher-kva.example', 70000, FALSE),
    ('xn--mller-kva.de', 70001, TRUE),
    ('catchall.test', 70002, TRUE),
    ('ca-alias.test', 70002, FALSE),
    ('empty.test', 70003, TRUE),
    ('imported.test', 75000, TRUE);

INSERT INTO users (local_part, passwd, name, gid) VALUES
    ('postmaster', '{SHA512_PW}', 'Postmaster', 70000);
INSERT INTO users (local_part, passwd, name, gid, tid, qid, ssid) VALUES
    ('alice', '{PLAIN}alice-pw', 'Alice Ängström', 70000, 2, 3, 3);
INSERT INTO users (local_part, passwd, gid, mid, qid) VALUES
    ('bob', '{CRAM-MD5}e02d374fde0dc75a17a557039a3a5338c7743304777dccd3',
     70000, 2, 1);
INSERT INTO users (local_part, passwd, gid, mid, ssid) VALUES
    ('dave', '{SSHA512}dave-hash', 70000, 4, 9);
INSERT INTO users (local_part, passwd, name, gid, mid) VALUES
    ('carol', '{PLAIN}geheim', 'Carol Müller', 70001, 3);
INSERT INTO users (local_part, passwd, uid, gid) VALUES
    ('frank', '{PLAIN}frank', 80000, 70001);
INSERT INTO users (local_part, passwd, gid) VALUES
    ('eve', '{PLAIN}eve', 70002), ('imp', '{PLAIN}imp', 75000);

INSERT INTO alias (gid, address, destination) VALUES
    (70000, 'info', 'alice@example.org'),
    (70000, 'info', 'bob@example.org'),
    (70000, 'info', 'external@example.com'),
    (70000, 'pm', 'postmaster+%d@admin.example.com'),
    (70000, 'team', '%n-team@lists.example.com'),
    (70000, 'team', '%=@forward.example.com'),
    (70001, 'kontakt', 'carol@xn--mller-kva.de'),
    (70002, 'sales', 'eve@catchall.test'),
    (70002, 'sales', 'sales+%n@crm.example.com');
INSERT INTO catchall (gid, destination) VALUES
    (70002, 'eve@catchall.test'), (70002, 'catch+%n=%d@example.org');
INSERT INTO relocated (gid, address, destination) VALUES
    (70000, 'old', 'new@example.com'),
    (70002, 'gone', 'gone@elsewhere.example');
""".replace('{SHA512_PW}', SHA512)

EXTRA_07 = r"""
INSERT INTO userquota (uid, bytes, messages)
    SELECT uid, 123456789, 321 FROM users WHERE local_part = 'alice';
INSERT INTO userquota (uid, bytes, messages)
    SELECT uid, 42, 1 FROM users WHERE local_part = 'carol';
UPDATE domain_data SET note = 'main domain' WHERE gid = 70000;
UPDATE domain_data SET note = 'Müller GmbH, IDN' WHERE gid = 70001;
UPDATE users SET note = 'own transport, quota and services'
 WHERE local_part = 'alice';
UPDATE users SET note = 'sdbox' WHERE local_part = 'carol';
"""

# For the 0.6 layout: users need explicit qid/ssid/tid (NOT NULL), and
# Dovecot 1.1 kept usage in userquota_11.
DATA_06_EXTRA = r"""
INSERT INTO userquota_11 (uid, path, current)
    SELECT uid, p, v FROM users,
           (VALUES ('quota/storage', 5000), ('quota/messages', 7)) q (p, v)
     WHERE local_part IN ('alice', 'carol');
"""

DOMAINS = ['example.org', 'example.net', 'xn--bcher-kva.example',
           'xn--mller-kva.de', 'catchall.test', 'ca-alias.test',
           'empty.test', 'imported.test', 'unknown.test']
LOCALS = ['postmaster', 'alice', 'bob', 'dave', 'carol', 'frank', 'eve',
          'imp', 'info', 'pm', 'team', 'kontakt', 'sales', 'old', 'gone',
          'nobody', 'x%d', 'x%n%=', '']
PAIRS = [(local, domain) for domain in DOMAINS for local in LOCALS]

FUNCTIONS = ['postfix_virtual_alias_map', 'postfix_virtual_mailbox_map',
             'postfix_virtual_uid_map', 'postfix_transport_map',
             'postfix_relocated_map', 'postfix_smtpd_sender_login_map',
             'dovecotpassword', 'dovecotuser', 'dovecotquotauser']

TABLES_07 = ['transport', 'mailboxformat', 'maillocation', 'quotalimit',
             'service_set', 'domain_data', 'domain_name', 'users',
             'userquota', 'alias', 'relocated', 'catchall']

# vmm 0.7's Dovecot iterate_query, as Configure.Dovecot_2 writes it.
ITERATE_QUERY = ('SELECT local_part AS username, domain_name.domainname AS '
                 'domain FROM users LEFT JOIN domain_data USING (gid) LEFT '
                 'JOIN domain_name USING (gid)')

# The queries of the Postfix files vmm 0.7 ships (examples/postfix/*.cf).
POSTFIX_QUERIES = {
    'pgsql-relocated_maps.cf':
        "SELECT destination FROM postfix_relocated_map('%u', '%d')",
    'pgsql-smtpd_sender_login_maps.cf':
        "SELECT login FROM postfix_smtpd_sender_login_map('%u', '%d')",
    'pgsql-transport_maps.cf':
        "SELECT transport FROM postfix_transport_map('%u', '%d')",
    'pgsql-virtual_alias_maps.cf':
        "SELECT destination FROM postfix_virtual_alias_map('%u', '%d')",
    'pgsql-virtual_gid_maps.cf':
        "SELECT gid FROM postfix_gid WHERE domainname='%d'",
    'pgsql-virtual_mailbox_domains.cf':
        "SELECT gid FROM postfix_gid WHERE domainname='%s'",
    'pgsql-virtual_mailbox_maps.cf':
        "SELECT maildir FROM postfix_virtual_mailbox_map('%u', '%d')",
    'pgsql-virtual_uid_maps.cf':
        "SELECT uid FROM postfix_virtual_uid_map('%u', '%d')",
}

# The Dovecot queries of vmm 0.7's Configure.Dovecot_2.
DOVECOT_QUERIES = {
    'password_query': 'SELECT userid AS "user", password FROM '
                      "dovecotpassword('%Ln', '%Ld') WHERE %Ls",
    'user_query (quota)': 'SELECT home, uid, gid, mail, quota_rule FROM '
                          "dovecotquotauser('%Ln', '%Ld')",
    'user_query': "SELECT home, uid, gid, mail FROM dovecotuser('%Ln', "
                  "'%Ld')",
    'iterate_query': ITERATE_QUERY,
}
SERVICES = ['smtp', 'pop3', 'imap', 'sieve']


def interpolate(destination, local, domain):
    """Our placeholders: each of %n, %d, %= filled in once."""
    values = {'%n': local, '%d': domain, '%=': '%s=%s' % (local, domain)}
    return re.sub('%[nd=]', lambda m: values[m.group()], destination)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

_dbcount = [0]


def create_07(pg, vmm07, owner, layout='0.7', data=True, grants=True):
    """A new database with vmm 0.7's schema (loaded as its owner)."""
    _dbcount[0] += 1
    name = 'vmm07_%d_%d' % (os.getpid(), _dbcount[0])
    pg.execute('CREATE DATABASE %s OWNER %s' % (name, owner))
    env = dict(os.environ, PGOPTIONS='-c role=%s' % owner)
    pg.psql(name, '-f', vmm07.schema_file, env=env,
            stdout=subprocess.DEVNULL)
    conn = pg.connect(name)
    try:
        with conn, conn.cursor() as cur:
            cur.execute('SET ROLE %s' % owner)
            if layout == '0.6':
                cur.execute(LAYOUT_06)
            if data:
                cur.execute(DATA_07)
                if layout == '0.6':
                    cur.execute(DATA_06_EXTRA)
                else:
                    cur.execute(EXTRA_07)
            if grants:
                for grant in GRANTS_07:
                    if layout == '0.6':
                        grant = grant.replace('ON userquota ',
                                              'ON userquota_11 ')
                    cur.execute(grant)
    finally:
        conn.close()
    return name


def create_fresh(pg, owner):
    """A database with our schema, created by its owner."""
    _dbcount[0] += 1
    name = 'vmmfresh_%d_%d' % (os.getpid(), _dbcount[0])
    pg.execute('CREATE DATABASE %s OWNER %s' % (name, owner))
    conn = pg.connect(name)
    try:
        with conn, conn.cursor() as cur:
            cur.execute('SET ROLE %s' % owner)
            schema.upgrade(cur)
    finally:
        conn.close()
    return name


def upgrade(pg, name):
    """``vmm.schema.upgrade`` in one transaction, as the superuser."""
    conn = pg.connect(name)
    try:
        with conn, conn.cursor() as cur:
            result = schema.upgrade(cur)
            cur.execute('SELECT current_user')
            assert cur.fetchone()[0] == pg.superuser  # role restored
        return result
    finally:
        conn.close()


def set_permissions(pg, name):
    pg.psql(name, '-v', 'postfix=postfix', '-v', 'dovecot=dovecot', '-f',
            os.path.join(schema.sql_directory(), 'set-permissions.sql'),
            stdout=subprocess.DEVNULL)


def full_dump(pg, name):
    """Schema and data, owners and privileges: the whole database (less
    the random key of pg_dump's ``\\restrict`` lines)."""
    text = subprocess.run(
        ['pg_dump', '-h', pg.socket_dir, '-p', str(pg.port), '-U',
         pg.superuser, name], check=True, capture_output=True,
        text=True).stdout
    return re.sub(r'^\\(un)?restrict .*$', '', text, flags=re.M)


def rows(cur, sql, params=None):
    cur.execute(sql, params)
    return sorted(cur.fetchall(), key=repr)


def table_rows(pg, name, tables=TABLES_07, columns=None):
    """Every row of every table, by the columns each had in vmm 0.7."""
    conn = pg.connect(name)
    try:
        with conn.cursor() as cur:
            result = {}
            for table in tables:
                cols = (columns or {}).get(table)
                if cols is None:
                    cur.execute(
                        "SELECT attname FROM pg_attribute WHERE attrelid = "
                        "%s::regclass AND attnum > 0 AND NOT attisdropped "
                        "ORDER BY attnum", (table,))
                    cols = [r[0] for r in cur.fetchall()]
                result[table] = (cols, rows(
                    cur, 'SELECT %s FROM %s' % (', '.join(cols), table)))
            return result
    finally:
        conn.close()


def function_answers(pg, name):
    """What every lookup function answers, called by the superuser."""
    conn = pg.connect(name)
    try:
        with conn.cursor() as cur:
            answers = {}
            for func in FUNCTIONS:
                for local, domain in PAIRS:
                    answers[func, local, domain] = rows(
                        cur, 'SELECT * FROM %s(%%s, %%s)' % func,
                        (local, domain))
            answers['postfix_gid'] = rows(cur, 'SELECT * FROM postfix_gid')
            answers['iterate_query'] = rows(cur, ITERATE_QUERY)
            return answers
    finally:
        conn.close()


def bind(query):
    """A Postfix/Dovecot query template as a psycopg2 query."""
    for key, name in (("'%u'", 'u'), ("'%d'", 'd'), ("'%s'", 's'),
                      ("'%Ln'", 'u'), ("'%Ld'", 'd')):
        query = query.replace(key, '%%(%s)s' % name)
    return query


def config_answers(pg, name):
    """What vmm 0.7's Postfix and Dovecot files get, through the roles
    postfix and dovecot."""
    answers = {}
    for role, queries in (('postfix', POSTFIX_QUERIES),
                          ('dovecot', DOVECOT_QUERIES)):
        conn = pg.connect(name, user=role)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for label, query in queries.items():
                    if label == 'iterate_query':
                        answers[label] = rows(cur, query)
                        continue
                    services = SERVICES if '%Ls' in query else [None]
                    for service in services:
                        sql = bind(query.replace('%Ls', service or ''))
                        for local, domain in PAIRS:
                            params = {'u': local, 'd': domain,
                                      's': domain}
                            answers[label, service, local, domain] = rows(
                                cur, sql, params)
        finally:
            conn.close()
    return answers


def catalog(pg, name):
    """The schema as the catalog has it, in comparable form."""
    conn = pg.connect(name)
    queries = {
        'relations': """
            SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner),
                   c.relpersistence, c.reloptions,
                   ARRAY(SELECT x::text FROM unnest(c.relacl) x ORDER BY 1)
              FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace""",
        'columns': """
            SELECT c.relname,
                   array_agg(ARRAY[a.attname::text,
                                   format_type(a.atttypid, a.atttypmod),
                                   a.attnotnull::text,
                                   coalesce(pg_get_expr(d.adbin, d.adrelid),
                                            '-'),
                                   a.attidentity::text,
                                   a.attgenerated::text,
                                   coalesce(a.attcollation::regcollation::text,
                                            '-'),
                                   coalesce(ARRAY(SELECT x::text
                                                    FROM unnest(a.attacl) x
                                                   ORDER BY 1)::text, '-')]
                             ORDER BY a.attnum)::text
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
              LEFT JOIN pg_attrdef d
                ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE c.relnamespace = 'public'::regnamespace
               AND a.attnum > 0 AND NOT a.attisdropped
             GROUP BY c.relname""",
        'constraints': """
            SELECT c.relname, con.conname, con.contype,
                   pg_get_constraintdef(con.oid), con.condeferrable,
                   con.condeferred, con.convalidated, con.connoinherit
              FROM pg_constraint con
              JOIN pg_class c ON c.oid = con.conrelid
             WHERE c.relnamespace = 'public'::regnamespace""",
        'indexes': """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
                   i.indisunique, i.indisprimary
              FROM pg_index i
              JOIN pg_class c ON c.oid = i.indrelid
             WHERE c.relnamespace = 'public'::regnamespace""",
        'triggers': """
            SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid),
                   t.tgenabled
              FROM pg_trigger t
              JOIN pg_class c ON c.oid = t.tgrelid
             WHERE c.relnamespace = 'public'::regnamespace
               AND NOT t.tgisinternal""",
        'functions': """
            SELECT p.proname, pg_get_function_identity_arguments(p.oid),
                   pg_get_function_result(p.oid), p.prosrc, p.prosecdef,
                   p.proconfig, p.provolatile, p.proisstrict, p.proretset,
                   l.lanname, pg_get_userbyid(p.proowner),
                   ARRAY(SELECT x::text FROM unnest(p.proacl) x ORDER BY 1)
              FROM pg_proc p
              JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'public'::regnamespace""",
        'views': """
            SELECT c.relname, pg_get_viewdef(c.oid)
              FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace
               AND c.relkind = 'v'""",
        'sequences': """
            SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart,
                   s.seqincrement, s.seqmax, s.seqmin, s.seqcache,
                   s.seqcycle,
                   (SELECT d.refobjid::regclass::text || '.' || d.refobjsubid
                      FROM pg_depend d
                     WHERE d.classid = 'pg_class'::regclass
                       AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
              FROM pg_sequence s
              JOIN pg_class c ON c.oid = s.seqrelid
             WHERE c.relnamespace = 'public'::regnamespace""",
        'types': """
            SELECT t.typname, t.typtype
              FROM pg_type t
             WHERE t.typnamespace = 'public'::regnamespace
               AND t.typelem = 0 AND t.typrelid = 0""",
    }
    try:
        with conn.cursor() as cur:
            return {key: rows(cur, sql) for key, sql in queries.items()}
    finally:
        conn.close()


def assert_same_catalog(pg, upgraded, fresh):
    have, want = catalog(pg, upgraded), catalog(pg, fresh)
    for key in want:
        assert have[key] == want[key], key


def sequence_state(pg, name, seq):
    return pg.execute('SELECT last_value, is_called FROM %s' % seq,
                      dbname=name)[0]


# ---------------------------------------------------------------------------
# The shipped files really say what this test sends
# ---------------------------------------------------------------------------

def test_queries_are_those_vmm07_ships(vmm07):
    for filename, query in POSTFIX_QUERIES.items():
        with open(vmm07.doc('examples', 'postfix', filename)) as handle:
            shipped = [line.split('=', 1)[1].strip() for line in handle
                       if line.startswith('query')]
        assert shipped == [query], filename
    with gzip.open(vmm07.doc('Configure.Dovecot_2.gz'), 'rt') as handle:
        text = handle.read()
    # "#key = \" and "# continued \" lines, joined.
    found = []
    for match in re.finditer(r'^#(\w+_query) =((?:.*\\\n#)*.*)$', text,
                             re.M):
        value = re.sub(r'\\\n#', ' ', match.group(2))
        found.append((match.group(1), ' '.join(value.split())))
    for label, query in DOVECOT_QUERIES.items():
        assert (label.split()[0], query) in found, label


# ---------------------------------------------------------------------------
# The upgrade
# ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def upgraded(pg, vmm07, owner):
    """A filled vmm 0.7 database, what it answered, and the same database
    after `vmm.schema.upgrade` (plus a fresh one to compare with)."""
    name = create_07(pg, vmm07, owner)
    before = {
        'rows': table_rows(pg, name),
        'functions': function_answers(pg, name),
        'config': config_answers(pg, name),
        'uid': sequence_state(pg, name, 'users_uid'),
    }
    result = upgrade(pg, name)
    after_upgrade = {
        'result': result,
        'rows': table_rows(pg, name, columns={
            t: cols for t, (cols, _r) in before['rows'].items()}),
        'functions': function_answers(pg, name),
        'config': config_answers(pg, name),   # 0.7 grants + carried over
    }
    set_permissions(pg, name)
    after_upgrade['config_set_permissions'] = config_answers(pg, name)
    return name, before, after_upgrade


def expected_answers(before):
    """vmm 0.7's answers, changed where we deliberately answer otherwise
    (UPGRADE, "What answers differently"):

    1. smtpd_sender_login_map for an alias: the destinations with their
       placeholders filled in, as the alias map delivers to them (vmm 0.7
       gave the raw "%n…" text, which is no login).
    2. Placeholders are filled in once: a "%d", "%n" or "%=" that the
       queried local part itself contains stays as it is (vmm 0.7 replaced
       it again, one placeholder after the other).
    3. The alias map for a relocated user in a domain with a catch-all: no
       answer (vmm 0.7 answered the address itself, so Postfix accepted
       it at RCPT TO and then bounced it to the sender).
    """
    rows_by_table = {t: r for t, (_c, r) in before['rows'].items()}
    gid_of = {n: g for n, g, _p in rows_by_table['domain_name']}
    users = {(r[0], r[4]) for r in rows_by_table['users']}
    relocated = {(g, a) for g, a, _d in rows_by_table['relocated']}
    aliases, catchall = {}, {}
    for gid, address, destination in rows_by_table['alias']:
        aliases.setdefault((gid, address), []).append(destination)
    for gid, destination in rows_by_table['catchall']:
        catchall.setdefault(gid, []).append(destination)

    expected = dict(before['functions'])
    changed = set()
    for local, domain in PAIRS:
        gid = gid_of.get(domain)
        address = '%s@%s' % (local, domain)
        if gid is None:
            continue
        if (local, gid) not in users and (gid, local) in aliases:
            key = ('postfix_smtpd_sender_login_map', local, domain)
            expected[key] = sorted(
                {(address, interpolate(d, local, domain))
                 for d in aliases[gid, local]}, key=repr)
        key = ('postfix_virtual_alias_map', local, domain)
        if (gid, local) in relocated and (local, gid) not in users \
                and (gid, local) not in aliases:
            expected[key] = []
            continue
        if (gid, local) in aliases:
            dests = aliases[gid, local]
        elif gid in catchall and (local, gid) not in users \
                and (gid, local) not in relocated:
            dests = catchall[gid]
        else:
            continue
        expected[key] = sorted(((address, interpolate(d, local, domain))
                                for d in dests), key=repr)
    for key, value in expected.items():
        if value != before['functions'][key]:
            changed.add(key)
    return expected, changed


def test_every_row_survives(upgraded):
    name, before, after = upgraded
    assert after['result'] == (0, schema.SCHEMA_VERSION)
    for table, (cols, old_rows) in before['rows'].items():
        new_cols, new_rows = after['rows'][table]
        assert new_cols == cols
        assert len(new_rows) == len(old_rows), table
        assert new_rows == old_rows, table


def test_new_columns_and_tables_have_their_defaults(pg, upgraded):
    name, before, _after = upgraded
    limits = pg.execute('SELECT DISTINCT max_accounts, max_aliases, '
                        'max_alias_domains FROM domain_data', dbname=name)
    assert limits == [(0, 0, 0)]
    for table in ('relay_domain', 'relay_recipient', 'vacation', 'vmm_log'):
        assert pg.execute('SELECT count(*) FROM %s' % table,
                          dbname=name) == [(0,)], table
    assert pg.execute('SELECT version FROM vmm_schema',
                      dbname=name) == [(1,)]
    # vmm 0.7's default rows are still there.
    assert pg.execute('SELECT transport FROM transport WHERE tid = 1',
                      dbname=name) == [('lmtp:unix:private/dovecot-lmtp',)]


def test_sequences_continue_after_the_highest_value(pg, upgraded):
    name, before, _after = upgraded
    assert before['uid'] == (70006, True)       # behind uid 80000 in use
    assert sequence_state(pg, name, 'users_uid') == (80000, True)
    assert sequence_state(pg, name, 'domain_gid') == (75000, True)
    assert sequence_state(pg, name, 'transport_id') == (3, True)
    assert sequence_state(pg, name, 'maillocation_id') == (4, True)
    assert sequence_state(pg, name, 'service_set_id') == (16, True)


def test_lookup_functions_answer_as_before(upgraded):
    name, before, after = upgraded
    expected, changed = expected_answers(before)
    for key, value in expected.items():
        assert after['functions'][key] == value, key
    # The documented differences, and nothing else.
    assert {k[0] for k in changed} == {'postfix_smtpd_sender_login_map',
                                       'postfix_virtual_alias_map'}
    sender = sorted((k[1], k[2]) for k in changed
                    if k[0] == 'postfix_smtpd_sender_login_map')
    assert sender == sorted(
        [(l, d) for l in ('pm', 'team')
         for d in ('example.org', 'example.net', 'xn--bcher-kva.example')]
        + [('sales', d) for d in ('catchall.test', 'ca-alias.test')])
    alias = sorted((k[1], k[2]) for k in changed
                   if k[0] == 'postfix_virtual_alias_map')
    assert alias == sorted((l, d) for l in ('x%d', 'x%n%=', 'gone')
                           for d in ('catchall.test', 'ca-alias.test'))
    assert before['functions'][
        'postfix_virtual_alias_map', 'gone', 'ca-alias.test'] == [
        ('gone@ca-alias.test', 'gone@ca-alias.test')]
    assert after['functions'][
        'postfix_relocated_map', 'gone', 'ca-alias.test'] == [
        ('gone@ca-alias.test', 'gone@elsewhere.example')]
    # Spot checks of what the answers are.
    assert after['functions'][
        'postfix_virtual_alias_map', 'team', 'example.net'] == [
        ('team@example.net', 'team-team@lists.example.com'),
        ('team@example.net', 'team=example.net@forward.example.com')]
    assert after['functions'][
        'postfix_virtual_alias_map', 'x%d', 'catchall.test'] == [
        ('x%d@catchall.test', 'catch+x%d=catchall.test@example.org'),
        ('x%d@catchall.test', 'eve@catchall.test')]
    assert before['functions'][
        'postfix_virtual_alias_map', 'x%d', 'catchall.test'] == [
        ('x%d@catchall.test',
         'catch+xcatchall.test=catchall.test@example.org'),
        ('x%d@catchall.test', 'eve@catchall.test')]
    assert after['functions'][
        'dovecotquotauser', 'alice', 'xn--bcher-kva.example'] == [
        ('alice@xn--bcher-kva.example', 70001, 70000,
         '/srv/mail/5/70000/70001', 'maildir:~/Maildir',
         '*:bytes=524288000:messages=10000')]
    assert after['functions']['dovecotpassword', 'alice', 'example.org'] == [
        ('alice@example.org', '{PLAIN}alice-pw', True, False, True, True)]
    assert after['functions']['iterate_query'] == before['functions'][
        'iterate_query']
    assert after['functions']['postfix_gid'] == before['functions'][
        'postfix_gid']


def expected_config(before_config, expected_functions):
    """The config-file answers we expect: vmm 0.7's, with the login and
    destination columns following the documented differences."""
    expected = dict(before_config)
    for key in before_config:
        if not isinstance(key, tuple):
            continue
        label, service, local, domain = key
        if label == 'pgsql-smtpd_sender_login_maps.cf':
            func = 'postfix_smtpd_sender_login_map'
        elif label == 'pgsql-virtual_alias_maps.cf':
            func = 'postfix_virtual_alias_map'
        else:
            continue
        expected[key] = sorted(((row[1],) for row in
                                expected_functions[func, local, domain]),
                               key=repr)
    return expected


def test_postfix_and_dovecot_files_answer_as_before(upgraded):
    """Through the roles: right after the upgrade (vmm 0.7's grants, and
    what the upgrade carried over) and after set-permissions.sql."""
    name, before, after = upgraded
    functions, _changed = expected_answers(before)
    expected = expected_config(before['config'], functions)
    assert sum(1 for v in before['config'].values() if v) > 200
    for stage in ('config', 'config_set_permissions'):
        for key, value in expected.items():
            assert after[stage][key] == value, (stage, key)


def test_roles_lose_vmm07_table_grants(pg, upgraded):
    """After set-permissions.sql the roles can only run their lookups."""
    name = upgraded[0]
    for role, table in (('postfix', 'users'), ('postfix', 'alias'),
                        ('dovecot', 'users'), ('dovecot', 'quotalimit'),
                        ('dovecot', 'vmm_log'), ('postfix', 'vmm_log')):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            pg.execute('SELECT * FROM %s' % table, dbname=name, user=role)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        pg.execute("SELECT * FROM dovecotpassword('alice', 'example.org')",
                   dbname=name, user='postfix')


@pytest.fixture(scope='module')
def fresh(pg, owner):
    """Our schema as create_tables.sql makes it, with the role grants."""
    name = create_fresh(pg, owner)
    set_permissions(pg, name)
    return name


def test_schema_equals_a_fresh_one(pg, upgraded, fresh):
    """Columns, types, defaults, constraints (by name too), indexes,
    triggers, functions, views, sequences, owners and privileges."""
    assert_same_catalog(pg, upgraded[0], fresh)


def test_upgrade_again_changes_nothing(pg, upgraded):
    name = upgraded[0]
    dump = full_dump(pg, name)
    assert upgrade(pg, name) == (schema.SCHEMA_VERSION,
                                 schema.SCHEMA_VERSION)
    assert full_dump(pg, name) == dump


def test_dovecot_dict_quota_writes_as_before(pg, upgraded):
    """Dovecot's dict quota adds to the row it finds, as the dovecot role."""
    name = upgraded[0]
    uid = dict(pg.execute('SELECT local_part, uid FROM users',
                          dbname=name))

    def usage(local):
        return pg.execute('SELECT bytes, messages FROM userquota '
                          'WHERE uid = %s', (uid[local],), dbname=name)

    def insert(local_uid, nbytes, messages):
        pg.execute('INSERT INTO userquota (uid, bytes, messages) '
                   'VALUES (%s, %s, %s)', (local_uid, nbytes, messages),
                   dbname=name, user='dovecot')

    insert(uid['alice'], 100, 2)
    assert usage('alice') == [(123456889, 323)]
    insert(uid['bob'], 50, 0)
    assert usage('bob') == [(50, 0)]
    pg.execute('UPDATE userquota SET bytes = bytes - 10, messages = '
               'messages + 1 WHERE uid = %s', (uid['bob'],), dbname=name,
               user='dovecot')
    assert usage('bob') == [(40, 1)]
    insert(99999, 1, 1)  # no such account: ignored
    assert pg.execute('SELECT count(*) FROM userquota WHERE uid = 99999',
                      dbname=name) == [(0,)]


# ---------------------------------------------------------------------------
# vmm 0.6's layout
# ---------------------------------------------------------------------------

def test_upgrade_from_vmm06_layout(pg, vmm07, owner, fresh):
    name = create_07(pg, vmm07, owner, layout='0.6')
    tables = [t for t in TABLES_07 if t != 'userquota']
    before = {'rows': table_rows(pg, name, tables)}
    conn = pg.connect(name)
    try:
        with conn.cursor() as cur:
            answers = {}
            for func in FUNCTIONS:
                if func == 'dovecotpassword':  # 0.6's returns managesieve
                    continue
                for local, domain in PAIRS:
                    answers[func, local, domain] = rows(
                        cur, 'SELECT * FROM %s(%%s, %%s)' % func,
                        (local, domain))
    finally:
        conn.close()
    before['functions'] = answers
    services = pg.execute('SELECT ssid, smtp, pop3, imap, managesieve FROM '
                          'service_set ORDER BY ssid', dbname=name)

    assert upgrade(pg, name) == (0, schema.SCHEMA_VERSION)

    after_rows = table_rows(pg, name, tables, columns={
        t: [c if c != 'managesieve' else 'sieve' for c in cols]
        for t, (cols, _r) in before['rows'].items()})
    for table in tables:
        assert after_rows[table][1] == before['rows'][table][1], table
    assert pg.execute('SELECT ssid, smtp, pop3, imap, sieve FROM '
                      'service_set ORDER BY ssid', dbname=name) == services
    assert pg.execute(
        'SELECT u.local_part, q.bytes, q.messages FROM userquota q '
        'JOIN users u USING (uid) ORDER BY 1', dbname=name) == [
        ('alice', 5000, 7), ('carol', 5000, 7)]
    assert pg.execute("SELECT to_regclass('userquota_11')",
                      dbname=name) == [(None,)]
    assert pg.execute('SELECT DISTINCT note FROM users', dbname=name) == [
        (None,)]

    expected, _changed = expected_answers(before)
    after = function_answers(pg, name)
    for key, value in expected.items():
        assert after[key] == value, key
    # alice: own service set 3 (no pop3); managesieve became sieve.
    assert after['dovecotpassword', 'alice', 'example.org'] == [
        ('alice@example.org', '{PLAIN}alice-pw', True, False, True, True)]

    # Dovecot's dict quota goes on into the new table at once.
    (alice,), = pg.execute("SELECT uid FROM users WHERE local_part = "
                           "'alice'", dbname=name)
    pg.execute('INSERT INTO userquota (uid, bytes, messages) VALUES '
               '(%s, 1, 1)', (alice,), dbname=name, user='dovecot')
    assert pg.execute('SELECT bytes, messages FROM userquota WHERE uid = %s',
                      (alice,), dbname=name) == [(5001, 8)]

    set_permissions(pg, name)
    assert_same_catalog(pg, name, fresh)


# ---------------------------------------------------------------------------
# Rows our constraints refuse
# ---------------------------------------------------------------------------

# vmm 0.7 never writes these, but a database edited by hand may hold them.
# session_replication_role = replica: vmm 0.7's own trigger would refuse
# the second primary name.
BROKEN_07 = r"""
SET session_replication_role = replica;
INSERT INTO maillocation (mid, fid, directory, extra) VALUES
    (10, 1, 'Maildir', 'same place'), (11, 2, 'mdbox', NULL);
UPDATE users SET mid = 10 WHERE local_part = 'postmaster';
UPDATE users SET mid = 11 WHERE local_part = 'dave';
INSERT INTO quotalimit (qid, bytes, messages) VALUES
    (10, -1073741824, 0), (11, -2048, -5);
UPDATE domain_data SET qid = 10 WHERE gid = 70002;
UPDATE users SET qid = 11 WHERE local_part = 'eve';
INSERT INTO domain_name (domainname, gid, is_primary) VALUES
    ('zz-second.test', 70003, TRUE);
SET session_replication_role = DEFAULT;
"""


def test_invalid_rows_are_repaired_not_lost(pg, vmm07, owner):
    name = create_07(pg, vmm07, owner)
    pg.execute(BROKEN_07, dbname=name)
    before = function_answers(pg, name)
    counts = {t: pg.execute('SELECT count(*) FROM %s' % t, dbname=name)
              for t in ('users', 'alias', 'catchall', 'relocated',
                        'domain_data', 'domain_name', 'userquota')}

    assert upgrade(pg, name) == (0, schema.SCHEMA_VERSION)

    for table, count in counts.items():
        assert pg.execute('SELECT count(*) FROM %s' % table,
                          dbname=name) == count, table
    assert pg.execute('SELECT local_part, mid FROM users WHERE local_part '
                      "IN ('postmaster', 'dave') ORDER BY 1",
                      dbname=name) == [('dave', 2), ('postmaster', 1)]
    assert pg.execute('SELECT mid FROM maillocation ORDER BY 1',
                      dbname=name) == [(1,), (2,), (3,), (4,)]
    assert pg.execute('SELECT qid, bytes, messages FROM quotalimit '
                      'WHERE qid >= 10', dbname=name) == [(11, 2048, 5)]
    assert pg.execute('SELECT qid FROM domain_data WHERE gid = 70002',
                      dbname=name) == [(2,)]
    assert pg.execute('SELECT domainname FROM domain_name WHERE gid = 70003 '
                      'AND is_primary', dbname=name) == [('empty.test',)]

    after = function_answers(pg, name)
    quota_changed = set()
    for key, value in before.items():
        if key[0] == 'dovecotquotauser' and key[2] in ('catchall.test',
                                                       'ca-alias.test'):
            quota_changed.add(key)
            continue
        if key[0] in ('postfix_virtual_alias_map',
                      'postfix_smtpd_sender_login_map'):
            continue  # the documented differences, tested above
        assert after[key] == value, key
    # Mail paths did not move.
    assert after['dovecotuser', 'postmaster', 'example.org'] == before[
        'dovecotuser', 'postmaster', 'example.org']
    assert after['dovecotquotauser', 'eve', 'catchall.test'][0][-1] == \
        '*:bytes=2048:messages=5'
    assert after['dovecotquotauser', 'eve', 'ca-alias.test'][0][-1] == \
        '*:bytes=2048:messages=5'

    (changes, objects), = pg.execute('SELECT changes, objects FROM vmm_log',
                                     dbname=name)
    for text in ("maillocation 10 (fid 1, directory 'Maildir', extra "
                 "'same place') merged into maillocation 1",
                 'maillocation 11 (fid 2, directory \'mdbox\', extra NULL) '
                 'merged into maillocation 2',
                 'quotalimit 10 (bytes -1073741824, messages 0) merged into '
                 'quotalimit 2 (bytes 1073741824, messages 0)',
                 'quotalimit 11 changed from (bytes -2048, messages -5) to '
                 '(bytes 2048, messages 5)',
                 'domain_name zz-second.test (gid 70003) is now an alias '
                 'domain of empty.test'):
        assert text in changes
    assert objects == ['empty.test', 'zz-second.test']


# ---------------------------------------------------------------------------
# A failed upgrade changes nothing
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('how', ['failing statement', 'conflicting object'])
def test_failed_upgrade_leaves_database_untouched(pg, vmm07, owner,
                                                  monkeypatch, how):
    name = create_07(pg, vmm07, owner)
    if how == 'conflicting object':
        pg.execute('CREATE TABLE vacation (uid bigint)', dbname=name)
    else:
        # Fail at the very end, after every other statement (the sequence
        # of UIDs has been moved on by then: that must be undone too).
        real = schema.read_sql
        marker = 'INSERT INTO vmm_schema (version) VALUES (1);'

        def failing(path):
            text = real(path)
            if path.endswith('from-vmm-0.7.sql'):
                assert text.rstrip().endswith(marker)
                text = text.replace(marker, 'SELECT 1 / 0;\n' + marker)
            return text
        monkeypatch.setattr(schema, 'read_sql', failing)
    dump = full_dump(pg, name)
    assert 'users_uid\', 70006, true' in dump
    conn = pg.connect(name)
    try:
        with pytest.raises(DatabaseError) as failure:
            with conn, conn.cursor() as cur:
                schema.upgrade(cur)
    finally:
        conn.close()
    assert ('division by zero' if how == 'failing statement'
            else 'relation "vacation" already exists') in str(failure.value)
    assert full_dump(pg, name) == dump


# ---------------------------------------------------------------------------
# Through the command line
# ---------------------------------------------------------------------------

def debian_vmm_cfg(vmm07, pg, name, base, path):
    """The vmm.cfg Debian's vmm 0.7 installs, as it is, pointed at the test
    database and base directory."""
    values = {('database', 'host'): pg.socket_dir,
              ('database', 'port'): str(pg.port),
              ('database', 'user'): pg.superuser,
              ('database', 'pass'): '',
              ('database', 'name'): name,
              ('database', 'sslmode'): 'disable',
              ('misc', 'base_directory'): str(base)}
    with open(os.path.join(vmm07.root, 'etc', 'vmm', 'vmm.cfg'),
              encoding='utf-8') as handle:
        lines = handle.read().splitlines()
    section = None
    for number, line in enumerate(lines):
        match = re.match(r'\[(\w+)\]', line)
        if match:
            section = match.group(1)
        match = re.match(r'(\w+)\s*=', line)
        if match and (section, match.group(1)) in values:
            lines[number] = '%s = %s' % (
                match.group(1), values.pop((section, match.group(1))))
    assert not values
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(lines) + '\n')
    os.chmod(path, 0o640)  # as Debian installs it
    return str(path)


def test_vmm_dbupgrade_then_ordinary_commands(pg, vmm07, owner, tmp_path):
    """With vmm 0.7's own vmm.cfg (Debian's), only the connection and
    base directory changed."""
    name = create_07(pg, vmm07, owner)
    base = tmp_path / 'mail'
    base.mkdir()
    vmm = Runner(debian_vmm_cfg(vmm07, pg, name, base, tmp_path / 'vmm.cfg'))

    result = vmm('userinfo', 'alice@example.org')
    assert result.code == 35 and 'dbupgrade' in result.err, result
    before = function_answers(pg, name)

    result = vmm('dbupgrade')
    assert result.code == 0, result
    assert pg.execute('SELECT version FROM vmm_schema', dbname=name) == [
        (schema.SCHEMA_VERSION,)]
    after = function_answers(pg, name)
    expected, _changed = expected_answers(
        {'rows': table_rows(pg, name), 'functions': before})
    assert after == expected

    dump = full_dump(pg, name)
    result = vmm('dbu')
    assert result.code == 0, result
    assert full_dump(pg, name) == dump

    result = vmm('userinfo', 'alice@example.org')
    assert result.code == 0, result
    assert 'smtp:[relay.example.net]:587' in result.out
    assert 'own transport, quota and services' in result.out
    result = vmm('domaininfo', 'example.org')
    assert result.code == 0, result
    assert 'main domain' in result.out

    result = vmm('aliasadd', 'new@example.org', 'alice@example.org')
    assert result.code == 0, result
    assert pg.execute("SELECT * FROM postfix_virtual_alias_map('new', "
                      "'xn--bcher-kva.example')", dbname=name) == [
        ('new@xn--bcher-kva.example', 'alice@example.org')]

    # useradd writes below misc.base_directory: move example.org there.
    domaindir = base / '5' / '70000'
    domaindir.mkdir(parents=True)
    os.chown(domaindir, 0, 70000)
    os.chmod(domaindir, 0o770)
    pg.execute('UPDATE domain_data SET domaindir = %s WHERE gid = 70000',
               (str(domaindir),), dbname=name)
    result = vmm('useradd', 'zoe@example.org', '-p', 'Zoe-secret-1')
    assert result.code == 0, result
    assert pg.execute("SELECT uid, home, mail FROM dovecotuser('zoe', "
                      "'example.net')", dbname=name) == [
        (80001, '%s/80001' % domaindir, 'maildir:~/Maildir')]
    assert os.path.isdir(domaindir / '80001' / 'Maildir' / 'cur')


def test_vmm_dbupgrade_failure_changes_nothing(pg, vmm07, owner, tmp_path):
    name = create_07(pg, vmm07, owner)
    pg.execute('CREATE TABLE vacation (uid bigint)', dbname=name)
    dump = full_dump(pg, name)
    vmm = Runner(write_config(tmp_path / 'vmm.cfg', pg, name,
                              tmp_path / 'mail'))
    result = vmm('dbupgrade')
    assert result.code == 35, result
    assert result.err.startswith('Error: ') and 'Traceback' not in result.err
    assert full_dump(pg, name) == dump
