"""Listings over many rows, streamed from a server-side cursor so that
memory does not grow with the number of domains or addresses."""

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.text import has_control

_LOCAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~.")
_DOMAIN_CHARS = frozenset('abcdefghijklmnopqrstuvwxyz0123456789-.')
# At the start or end of either part: any text.
_WILDCARDS = '%*'


def _invalid(pattern, reason):
    from vmm.text import printable
    return VMMError(_("Invalid pattern '%(pattern)s': %(reason)s")
                    % {'pattern': printable(pattern), 'reason': reason},
                    errors.INVALID_OPTION)


def _bad_character(pattern, core, allowed, is_domain):
    """The reason *core* is refused, or None."""
    for char in core:
        if char in allowed:
            continue
        if is_domain and char in _WILDCARDS:
            return _('% and * are wildcards only at the start or end of the '
                     'domain part')
        shown = _('a space') if char == ' ' else \
            ('"%s"' if char == "'" else "'%s'") % char
        if is_domain:
            return _('%s cannot appear in a domain name') % shown
        return _('%s cannot appear in a local part') % shown
    return None


def _ace_fragment(pattern, text):
    """Non-ASCII labels of a domain pattern in ACE form."""
    import idna
    try:
        return '.'.join(idna.encode(label, uts46=True).decode('ascii')
                        if not label.isascii() else label
                        for label in text.split('.'))
    except (idna.IDNAError, UnicodeError):
        raise _invalid(pattern, _('not a valid internationalised domain '
                                  'name')) from None


def _pattern_part(pattern, text, is_domain):
    """One side of a pattern as SQL LIKE: ``%`` or ``*`` at its ends are
    wildcards; inside a local part they are the characters themselves."""
    starts = text[:1] in _WILDCARDS
    ends = text[-1:] in _WILDCARDS
    core = text.strip(_WILDCARDS).lower()
    if is_domain and not core.isascii():
        core = _ace_fragment(pattern, core)
    reason = _bad_character(pattern, core,
                            _DOMAIN_CHARS if is_domain else _LOCAL_CHARS,
                            is_domain)
    if reason:
        raise _invalid(pattern, reason)
    core = core.replace('%', '\\%').replace('_', '\\_')
    return ('%' if starts else '') + core + ('%' if ends and core else '')


def _idn_likes(conn, pattern, text):
    """The domain side of a pattern whose wildcard cuts into a non-ASCII
    label: ACE cannot be matched in part, so the IDN names are compared in
    Unicode here and returned as exact LIKE patterns."""
    import idna
    core = text.strip(_WILDCARDS).lower()
    try:
        core = idna.uts46_remap(core, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        pass
    if any(char in _WILDCARDS or char.isspace() for char in core):
        raise _invalid(pattern, _bad_character(pattern, core, (), True))
    from vmm.models.values import display_domain
    starts, ends = text[:1] in _WILDCARDS, text[-1:] in _WILDCARDS
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
    """(local LIKE or None, [domain LIKE, …]) for a search pattern as
    vmm(1) describes it; with *conn*, Unicode fragments of IDN labels
    match too."""
    if pattern is None:
        return None, ['%']
    if has_control(pattern):
        raise VMMError(_('Invalid pattern: control characters are not '
                         'allowed'), errors.INVALID_OPTION)
    if pattern.count('@') > 1:
        raise _invalid(pattern, _('more than one @'))
    if '@' in pattern:
        local, domain = pattern.rsplit('@', 1)
        local, domain = _pattern_part(pattern, local or '%', False), \
            domain or '%'
    else:
        local, domain = None, pattern
    domain_core = domain.strip(_WILDCARDS)
    if conn is not None and not domain_core.isascii() and \
            domain_core != domain:
        return local, _idn_likes(conn, pattern, domain)
    return local, [_pattern_part(pattern, domain, True)]


def _stream(conn, sql, params):
    with conn.cursor(name='vmm_listing') as cur:
        cur.itersize = 2000
        cur.execute(sql, params)
        yield from cur


def _display_order(conn, likes):
    """The domain names matching *likes*, sorted by their Unicode form in
    Python: the listing's SQL orders by their position in this array,
    since PostgreSQL only knows the ACE form and its own collation.
    Domains are few next to the addresses streamed."""
    from vmm.models.values import domain_order
    with conn.cursor() as cur:
        cur.execute('SELECT domainname FROM domain_name WHERE domainname '
                    'LIKE ANY(%(d)s) UNION SELECT domainname FROM '
                    'relay_domain WHERE domainname LIKE ANY(%(d)s)',
                    {'d': likes})
        return sorted((row[0] for row in cur), key=domain_order)


def domains(conn, pattern=None):
    """(kind, name, primary name) rows: each primary domain followed by its
    alias domains; relay domains as their own kind.  A matching primary
    domain brings all its alias domains, a matching alias domain its
    primary."""
    _local, domain = parse_pattern(pattern, conn)
    return _stream(conn, """
        SELECT x.* FROM (
            SELECT CASE WHEN n.is_primary THEN 'primary' ELSE 'alias' END,
                   n.domainname, p.domainname
              FROM domain_name n
              JOIN domain_name p ON p.gid = n.gid AND p.is_primary
             WHERE p.domainname LIKE ANY(%(d)s)
                OR n.domainname LIKE ANY(%(d)s)
                OR (n.is_primary AND EXISTS (
                        SELECT 1 FROM domain_name m
                         WHERE m.gid = n.gid
                           AND m.domainname LIKE ANY(%(d)s)))
            UNION ALL
            SELECT 'relay', domainname, domainname FROM relay_domain
             WHERE domainname LIKE ANY(%(d)s)) x (kind, name, primary_name)
          JOIN unnest(%(o)s::text[]) WITH ORDINALITY p (name, place)
            ON p.name = x.primary_name
          JOIN unnest(%(o)s::text[]) WITH ORDINALITY n (name, place)
            ON n.name = x.name
         ORDER BY p.place, x.kind = 'alias', n.place""",
                   {'d': domain, 'o': _display_order(conn, ['%'])})


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
    domain as shown, then local part (ASCII, so byte order is the order a
    reader sees)."""
    local, domain = parse_pattern(pattern, conn)
    sql = ' UNION ALL '.join(_ADDRESS_SQL[kind] for kind in kinds)
    return _stream(conn, 'SELECT x.* FROM (' + sql + ') x (kind, local_part,'
                   ' domainname, is_primary) JOIN unnest(%(o)s::text[]) '
                   'WITH ORDINALITY o (name, place) ON o.name = x.domainname '
                   'ORDER BY o.place, x.local_part COLLATE "C", '
                   'x.kind COLLATE "C"',
                   {'d': domain, 'l': local or '%',
                    'o': _display_order(conn, domain)})
