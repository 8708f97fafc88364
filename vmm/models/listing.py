"""Listings over many rows, streamed from a server-side cursor so that
memory does not grow with the number of domains or addresses."""

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _

_PATTERN_PART_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~.")


def _ace_fragment(text):
    """Non-ASCII labels of a domain pattern in ACE form."""
    import idna
    try:
        return '.'.join(idna.encode(label, uts46=True).decode('ascii')
                        if not label.isascii() else label
                        for label in text.split('.'))
    except (idna.IDNAError, UnicodeError):
        raise VMMError(_("Invalid pattern: '%s'") % text,
                       errors.INVALID_OPTION) from None


def _pattern_part(text, is_domain):
    """One side of a pattern as SQL LIKE; ``%`` only at its ends."""
    core = text.strip('%').lower()
    if is_domain and not core.isascii():
        core = _ace_fragment(core)
    if '%' in core or not set(core) <= _PATTERN_PART_CHARS:
        raise VMMError(_("Invalid pattern: '%s' (%% is a wildcard only at "
                         "the start or end)") % text, errors.INVALID_OPTION)
    core = core.replace('_', '\\_')
    return ('%' if text.startswith('%') else '') + core + \
        ('%' if text.endswith('%') else '')


def parse_pattern(pattern):
    """SPEC §2: (local LIKE or None, domain LIKE) for a search pattern."""
    if pattern is None:
        return None, '%'
    if '\0' in pattern or not pattern.isprintable():
        raise VMMError(_('Invalid pattern: control characters are not '
                         'allowed'), errors.INVALID_OPTION)
    if pattern.count('@') > 1:
        raise VMMError(_("Invalid pattern: '%s'") % pattern,
                       errors.INVALID_OPTION)
    if '@' in pattern:
        local, domain = pattern.split('@')
        return _pattern_part(local or '%', False), \
            _pattern_part(domain or '%', True)
    return None, _pattern_part(pattern, True)


def _stream(conn, sql, params):
    with conn.cursor(name='vmm_listing') as cur:
        cur.itersize = 2000
        cur.execute(sql, params)
        yield from cur


def domains(conn, pattern=None):
    """(kind, name, primary name) rows: each primary domain followed by its
    alias domains; relay domains as their own kind."""
    _local, domain = parse_pattern(pattern)
    return _stream(conn, """
        SELECT CASE WHEN n.is_primary THEN 'primary' ELSE 'alias' END,
               n.domainname, p.domainname
          FROM domain_name n
          JOIN domain_name p ON p.gid = n.gid AND p.is_primary
         WHERE p.domainname IN (SELECT domainname FROM domain_name
                                 WHERE domainname LIKE %(d)s)
            OR n.domainname LIKE %(d)s
        UNION ALL
        SELECT 'relay', domainname, domainname FROM relay_domain
         WHERE domainname LIKE %(d)s
         ORDER BY 3, 1 DESC, 2""", {'d': domain})


_ADDRESS_SQL = {
    'account': "SELECT 'u', u.local_part, n.domainname, n.is_primary "
               "FROM users u JOIN domain_name n ON n.gid = u.gid "
               "WHERE n.domainname LIKE %(d)s AND u.local_part LIKE %(l)s",
    'alias': "SELECT DISTINCT 'a', a.address, n.domainname, n.is_primary "
             "FROM alias a JOIN domain_name n ON n.gid = a.gid "
             "WHERE n.domainname LIKE %(d)s AND a.address LIKE %(l)s",
    'relocated': "SELECT 'r', r.address, n.domainname, n.is_primary "
                 "FROM relocated r JOIN domain_name n ON n.gid = r.gid "
                 "WHERE n.domainname LIKE %(d)s AND r.address LIKE %(l)s",
}


def addresses(conn, pattern=None, kinds=('account', 'alias', 'relocated')):
    """(kind letter, local part, domain, is primary domain) rows, sorted by
    domain and local part."""
    local, domain = parse_pattern(pattern)
    sql = ' UNION ALL '.join(_ADDRESS_SQL[kind] for kind in kinds)
    return _stream(conn, sql + ' ORDER BY 3, 2',
                   {'d': domain, 'l': local or '%'})

