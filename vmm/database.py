"""The one PostgreSQL connection of a vmm run.

Connection problems become one DatabaseError line (exit 35).  A command
that changes something asks libpq for a read-write session, so a host list
may name hot standbys before the primary; a read-only one takes the first
host that answers.
"""

from vmm.errors import DatabaseError
from vmm.i18n import _


def first_line(err):
    """The first meaningful line of a psycopg2/libpq error."""
    for line in str(err).splitlines():
        line = line.strip()
        if line:
            return line
    return type(err).__name__


def check_host_list(hosts, ports):
    """libpq's rule: one port for all hosts, or one per host."""
    host_count = len(hosts.split(','))
    port_count = len(ports.split(','))
    if port_count != 1 and port_count != host_count:
        raise DatabaseError(
            _('database.host lists %(hosts)d hosts but database.port lists '
              '%(ports)d ports; give one port for all or one per host')
            % {'hosts': host_count, 'ports': port_count})


def connect(config, read_write=True, timeout=10):
    """Open the connection described by vmm.cfg's [database] section,
    giving up on a host after *timeout* seconds."""
    import psycopg2
    hosts, ports = config['database.host'], config['database.port']
    check_host_list(hosts, ports)
    params = {
        'host': hosts,
        'port': ports,
        'dbname': config['database.name'],
        'user': config['database.user'],
        'sslmode': config['database.sslmode'],
        'connect_timeout': timeout,
        'application_name': 'vmm',
        'target_session_attrs': 'read-write' if read_write else 'any',
    }
    if config['database.pass']:
        params['password'] = config['database.pass']
    try:
        return psycopg2.connect(**params)
    except psycopg2.OperationalError as err:
        reason = first_line(err)
        if read_write and ('read-only' in reason or 'standby' in reason):
            raise DatabaseError(
                _('Cannot change anything: the database server (%s) is a '
                  'read-only standby; point database.host at the primary')
                % hosts) from None
        raise DatabaseError(_('Cannot connect to the database: %s')
                            % reason) from None


def stream(conn, name, sql, params):
    """Rows of *sql* from the server-side cursor *name*, a few thousand at
    a time: a listing of any length costs the same memory."""
    with conn.cursor(name=name) as cur:
        cur.itersize = 2000
        cur.execute(sql, params)
        yield from cur
