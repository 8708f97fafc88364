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


def _idn_likes(conn, text):
    """The domain side of a pattern whose wildcard cuts into a non-ASCII
    label: ACE cannot be matched in part, so the IDN names are compared in
    Unicode here and returned as exact LIKE patterns."""
    import idna
    core = text.strip('%').lower()
    try:
        core = idna.uts46_remap(core, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        pass
    if '%' in core:
        raise VMMError(_("Invalid pattern: '%s' (%% is a wildcard only at "
                         "the start or end)") % text, errors.INVALID_OPTION)
    from vmm.models.values import display_domain
    starts, ends = text.startswith('%'), text.endswith('%')
    with conn.cursor() as cur:
        cur.execute('SELECT domainname FROM domain_name WHERE strpos('
                    "domainname, 'xn--') > 0 UNION SELECT domainname FROM "
                    "relay_domain WHERE strpos(domainname, 'xn--') > 0")
        names = [row[0] for row in cur.fetchall()]
    matching = []
    for name in names:
        shown = display_domain(name)
        if (starts and ends and core in shown) or \
                (starts and not ends and shown.endswith(core)) or \
                (ends and not starts and shown.startswith(core)):
            matching.append(name)
    return matching


def parse_pattern(pattern, conn=None):
    """SPEC §2: (local LIKE or None, [domain LIKE, …]) for a search
    pattern; with *conn*, Unicode fragments of IDN labels match too."""
    if pattern is None:
        return None, ['%']
    if '\0' in pattern or not pattern.isprintable():
        raise VMMError(_('Invalid pattern: control characters are not '
                         'allowed'), errors.INVALID_OPTION)
    if pattern.count('@') > 1:
        raise VMMError(_("Invalid pattern: '%s'") % pattern,
                       errors.INVALID_OPTION)
    if '@' in pattern:
        local, domain = pattern.split('@')
        local, domain = _pattern_part(local or '%', False), domain or '%'
    else:
        local, domain = None, pattern
    domain_core = domain.strip('%')
    if conn is not None and not domain_core.isascii() and \
            domain_core != domain:
        return local, _idn_likes(conn, domain)
    return local, [_pattern_part(domain, True)]


def _stream(conn, sql, params):
    with conn.cursor(name='vmm_listing') as cur:
        cur.itersize = 2000
        cur.execute(sql, params)
        yield from cur


def domains(conn, pattern=None):
    """(kind, name, primary name) rows: each primary domain followed by its
    alias domains; relay domains as their own kind.  A matching primary
    domain brings all its alias domains, a matching alias domain its
    primary."""
    _local, domain = parse_pattern(pattern, conn)
    return _stream(conn, """
        SELECT CASE WHEN n.is_primary THEN 'primary' ELSE 'alias' END,
               n.domainname, p.domainname
          FROM domain_name n
          JOIN domain_name p ON p.gid = n.gid AND p.is_primary
         WHERE p.domainname LIKE ANY(%(d)s)
            OR n.domainname LIKE ANY(%(d)s)
            OR (n.is_primary AND EXISTS (
                    SELECT 1 FROM domain_name m
                     WHERE m.gid = n.gid AND m.domainname LIKE ANY(%(d)s)))
        UNION ALL
        SELECT 'relay', domainname, domainname FROM relay_domain
         WHERE domainname LIKE ANY(%(d)s)
         ORDER BY 3, 1 DESC, 2""", {'d': domain})


_ADDRESS_SQL = {
    'account': "SELECT 'u', u.local_part, n.domainname, n.is_primary "
               "FROM users u JOIN domain_name n ON n.gid = u.gid "
               "WHERE n.domainname LIKE ANY(%(d)s) "
               "AND u.local_part LIKE %(l)s",
    'alias': "SELECT DISTINCT 'a', a.address, n.domainname, n.is_primary "
             "FROM alias a JOIN domain_name n ON n.gid = a.gid "
             "WHERE n.domainname LIKE ANY(%(d)s) "
             "AND a.address LIKE %(l)s",
    'relocated': "SELECT 'r', r.address, n.domainname, n.is_primary "
                 "FROM relocated r JOIN domain_name n ON n.gid = r.gid "
                 "WHERE n.domainname LIKE ANY(%(d)s) "
                 "AND r.address LIKE %(l)s",
}


def addresses(conn, pattern=None, kinds=('account', 'alias', 'relocated')):
    """(kind letter, local part, domain, is primary domain) rows, sorted by
    domain and local part."""
    local, domain = parse_pattern(pattern, conn)
    sql = ' UNION ALL '.join(_ADDRESS_SQL[kind] for kind in kinds)
    return _stream(conn, sql + ' ORDER BY 3, 2',
                   {'d': domain, 'l': local or '%'})

