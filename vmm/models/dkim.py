"""A domain's DKIM keys (table dkim_key).  Nothing here reads a private
key: only OpenDKIM does, through the views of pgsql/dkim.sql."""

_COLUMNS = 'selector, algorithm, public_key, state, created, since'


class DkimKey:
    """One key without its private half."""

    def __init__(self, row):
        (self.selector, self.algorithm, self.public_key, self.state,
         self.created, self.since) = row


def keys(cur, gid, lock=False):
    """The domain's keys, newest first."""
    cur.execute('SELECT ' + _COLUMNS + ' FROM dkim_key WHERE gid = %s '
                'ORDER BY created DESC, selector' +
                (' FOR UPDATE' if lock else ''), (gid,))
    return [DkimKey(row) for row in cur.fetchall()]


def insert(cur, gid, selector, algorithm, private_key, public_key):
    cur.execute('INSERT INTO dkim_key (gid, selector, algorithm, '
                'private_key, public_key, state) '
                "VALUES (%s, %s, %s, %s, %s, 'published')",
                (gid, selector, algorithm, private_key, public_key))


def set_state(cur, gid, selector, state, since=None):
    cur.execute('UPDATE dkim_key SET state = %s, '
                'since = coalesce(%s, now()) '
                'WHERE gid = %s AND selector = %s',
                (state, since, gid, selector))


def delete(cur, gid, selector=None):
    """Remove one key, or all of the domain's; the selectors removed."""
    if selector is None:
        cur.execute('DELETE FROM dkim_key WHERE gid = %s RETURNING selector',
                    (gid,))
    else:
        cur.execute('DELETE FROM dkim_key WHERE gid = %s AND selector = %s '
                    'RETURNING selector', (gid, selector))
    return sorted(row[0] for row in cur.fetchall())


def retiring_before(cur, moment):
    """(gid, primary name, selector, algorithm, public key) of the keys
    retiring since before *moment*, locked."""
    cur.execute('SELECT k.gid, n.domainname, k.selector, k.algorithm, '
                'k.public_key FROM dkim_key k JOIN domain_name n '
                'ON n.gid = k.gid AND n.is_primary '
                "WHERE k.state = 'retiring' AND k.since <= %s "
                'ORDER BY n.domainname, k.selector FOR UPDATE OF k',
                (moment,))
    return cur.fetchall()


def names(cur, gid):
    """Every name that signs with the domain's key: primary first, then
    its alias domains (each publishes the record under its own name)."""
    cur.execute('SELECT domainname FROM domain_name WHERE gid = %s '
                'ORDER BY NOT is_primary, domainname', (gid,))
    return [row[0] for row in cur.fetchall()]


def active_keys(cur):
    """(primary name, gid, selector, algorithm, public key) of every
    active key, for vmm check."""
    cur.execute('SELECT n.domainname, k.gid, k.selector, k.algorithm, '
                'k.public_key FROM dkim_key k JOIN domain_name n '
                "ON n.gid = k.gid AND n.is_primary WHERE k.state = 'active' "
                'ORDER BY n.domainname')
    return cur.fetchall()
