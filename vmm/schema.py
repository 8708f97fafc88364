"""Creating and upgrading the database schema (``vmm dbupgrade``).

The SQL lives in ``pgsql/`` (installed as the package ``vmm.pgsql``).  A
database is recognised as empty, as this project's (``vmm_schema`` names
its version), or as vmm 0.6/0.7's (its tables without ``vmm_schema``); each
is brought to SCHEMA_VERSION in the caller's single transaction.
"""

import os
import re

from vmm.errors import DatabaseError
from vmm.i18n import _

SCHEMA_VERSION = 1

_INCLUDE = re.compile(r'^\\ir\s+(\S+)\s*$', re.M)


def sql_directory():
    """Where the schema files are: the installed package or the checkout."""
    try:
        import vmm.pgsql
        return os.path.dirname(vmm.pgsql.__file__) if vmm.pgsql.__file__ \
            else list(vmm.pgsql.__path__)[0]
    except ImportError:
        return os.path.join(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))), 'pgsql')


def read_sql(name):
    """A schema file as one script, with psql's ``\\ir FILE`` inlined."""
    path = os.path.join(sql_directory(), name)
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    return _INCLUDE.sub(lambda m: read_sql(os.path.join(
        os.path.dirname(name), m.group(1))), text)


def _table_exists(cur, name):
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", ('public.' + name,))
    return cur.fetchone()[0]


def installed_version(cur):
    """This project's schema version; 0 for vmm 0.6/0.7; None if empty."""
    if _table_exists(cur, 'vmm_schema'):
        cur.execute('SELECT max(version) FROM vmm_schema')
        return cur.fetchone()[0] or 0
    if _table_exists(cur, 'users') and _table_exists(cur, 'domain_data'):
        return 0
    cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'public'")
    if cur.fetchone()[0]:
        raise DatabaseError(_('The database holds tables that are not a vmm '
                              'schema; refusing to touch it'))
    return None


def current_state(cur):
    """(schema version, whether directory removals are owed, whether the
    server is a standby) in the one query every command makes; (None,
    False, False) when there is no schema: the transaction is then
    aborted, and the caller gives up on the connection."""
    import psycopg2.errors
    try:
        cur.execute('SELECT max(version), EXISTS (SELECT 1 FROM '
                    'directory_removal), pg_is_in_recovery() FROM vmm_schema')
    except psycopg2.errors.UndefinedTable:
        return None, False, False
    return cur.fetchone()


def upgrade(cur):
    """Bring the database to SCHEMA_VERSION; return (before, after)."""
    before = installed_version(cur)
    if before is not None and before > SCHEMA_VERSION:
        raise DatabaseError(_('The database schema (version %(db)d) is '
                              'newer than this vmm (version %(vmm)d)')
                            % {'db': before, 'vmm': SCHEMA_VERSION})
    scripts = []
    if before is None:
        scripts.append('create_tables.sql')
    elif before == 0:
        scripts.append(os.path.join('upgrade', 'from-vmm-0.7.sql'))
    for version in range(max(before or 0, 1) + 1, SCHEMA_VERSION + 1):
        scripts.append(os.path.join('upgrade', '%d.sql' % version))
    for script in scripts:
        _execute(cur, read_sql(script))
    return before, SCHEMA_VERSION


def _execute(cur, sql):
    """Run one schema script; a failure is one DatabaseError line (the
    caller rolls the transaction back, so nothing has changed)."""
    import psycopg2
    try:
        cur.execute(sql)
    except psycopg2.Error as err:
        from vmm.database import first_line
        raise DatabaseError(_('The database schema could not be created or '
                              'upgraded; nothing was changed: %s')
                            % first_line(err)) from err
