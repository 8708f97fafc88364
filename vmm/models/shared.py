"""Rows shared by domains and accounts: transports, quota limits, service
sets and mail locations are stored once and referenced by id."""

from vmm.models.values import SERVICES, QuotaLimit, ServiceSet

# Rows per INSERT statement when many are written at once.
PAGE_SIZE = 1000


def insert_rows(cur, table, columns, rows, template=None, returning=None):
    """Write *rows* (tuples in the order of *columns*) with as few
    statements as there are pages: each model's one INSERT for its table,
    used with one row by the commands and with a chunk by the import, so
    the lookup-cache triggers run once per statement, not per row.  With
    *returning*, the columns of the rows written are returned."""
    from psycopg2.extras import execute_values
    if not rows:
        return []
    sql = 'INSERT INTO %s (%s) VALUES %%s' % (table, ', '.join(columns))
    if returning:
        sql += ' ON CONFLICT DO NOTHING RETURNING ' + returning
    return execute_values(cur, sql, rows, template=template,
                          page_size=PAGE_SIZE, fetch=bool(returning)) or []


def _id_of(cur, table, key, columns, values):
    """The id of the row with *values*, inserting it when it is new."""
    where = ' AND '.join('%s = %%s' % c for c in columns)
    cur.execute('SELECT %s FROM %s WHERE %s' % (key, table, where), values)
    row = cur.fetchone()
    if row:
        return row[0]
    cur.execute('INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING '
                'RETURNING %s' % (table, ', '.join(columns),
                                  ', '.join(['%s'] * len(columns)), key),
                values)
    row = cur.fetchone()
    if row:
        return row[0]
    # Another transaction inserted the same row and committed meanwhile:
    # a new statement sees it.
    cur.execute('SELECT %s FROM %s WHERE %s' % (key, table, where), values)
    return cur.fetchone()[0]


def transport_id(cur, transport):
    return _id_of(cur, 'transport', 'tid', ('transport',), (str(transport),))


def quota_id(cur, quota):
    return _id_of(cur, 'quotalimit', 'qid', ('bytes', 'messages'),
                  (quota.bytes, quota.messages))


def services_id(cur, services):
    return _id_of(cur, 'service_set', 'ssid', SERVICES, services.as_tuple())


def maillocation_id(cur, mailbox_format, directory):
    cur.execute('SELECT f.fid, m.mid FROM mailboxformat f LEFT JOIN '
                'maillocation m ON m.fid = f.fid AND m.directory = %s '
                'WHERE f.format = %s', (directory, mailbox_format))
    fid, mid = cur.fetchone()
    if mid is not None:
        return mid
    return _id_of(cur, 'maillocation', 'mid', ('fid', 'directory'),
                  (fid, directory))


def transport_text(cur, tid):
    cur.execute('SELECT transport FROM transport WHERE tid = %s', (tid,))
    return cur.fetchone()[0]


def quota_of(cur, qid):
    cur.execute('SELECT bytes, messages FROM quotalimit WHERE qid = %s',
                (qid,))
    return QuotaLimit(*cur.fetchone())


def services_of(cur, ssid):
    cur.execute('SELECT smtp, pop3, imap, sieve FROM service_set '
                'WHERE ssid = %s', (ssid,))
    return ServiceSet(*cur.fetchone())

