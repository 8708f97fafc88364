"""The alias-loop guard (vmm(1)).

Before a change to aliases, catch-alls or alias domains commits, follow the
expansion the way Postfix would — through postfix_virtual_alias_map
itself, so aliases, catch-alls, alias domains and placeholders behave
exactly as at delivery — from the addresses the change can affect, and
refuse it when an address reaches itself again or the chain is deeper than
Postfix's virtual_alias_recursion_limit.  Only the affected part of the
graph is read, one level of it per query: an alias domain added to a
domain with many aliases has thousands of addresses to follow, and one
round trip each would take minutes.
"""

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.models.values import EmailAddress

# A local part no account or alias can have (it is too long): what a
# catch-all answers for.
PROBE = 'vmm-loop-probe-' + 'x' * 60


# Addresses expanded per query: few round trips, bounded query size.
BATCH = 10000


class _Expansions(dict):
    """address -> its alias-map destinations; *dead_ends* holds the
    addresses that expand to themselves and can never be an account: an
    alias (under any name of its domain) or the probe.  Postfix stops
    expanding there and delivers to the address, which has no mailbox, so
    the mail bounces.  (An unknown address that a catch-all sends to
    itself may still become an account: a warning, not a loop.)"""

    def __init__(self):
        super().__init__()
        self.dead_ends = set()


def _fetch(cur, addresses, cache):
    """Expand *addresses* into *cache*, a batch per query."""
    for first in range(0, len(addresses), BATCH):
        batch = addresses[first:first + BATCH]
        pairs = [address.rpartition('@') for address in batch]
        cur.execute("SELECT s.n, m.destination, CASE WHEN "
                    "lower(m.destination) = lower(s.l || '@' || s.d) "
                    'THEN NOT EXISTS (SELECT 1 FROM '
                    'postfix_virtual_mailbox_map(s.l, s.d)) AND (s.l = %s '
                    'OR EXISTS (SELECT 1 FROM lookup_alias a WHERE '
                    "a.address = s.l || '@' || s.d AND a.local_part <> '')) "
                    'ELSE FALSE END '
                    'FROM unnest(%s::varchar[], %s::varchar[]) '
                    'WITH ORDINALITY AS s(l, d, n), '
                    'LATERAL postfix_virtual_alias_map(s.l, s.d) m',
                    (PROBE, [p[0] for p in pairs], [p[2] for p in pairs]))
        for address in batch:
            cache[address] = []
        for number, destination, dead_end in cur.fetchall():
            cache[batch[number - 1]].append(destination.lower())
            if dead_end:
                cache.dead_ends.add(batch[number - 1])


def _prefetch(cur, starts, limit, cache):
    """Expand everything within *limit* steps of *starts*, a level per
    query (deeper addresses, if any, are fetched as the walk meets them)."""
    frontier = list(dict.fromkeys(a for a in starts if a not in cache))
    for _level in range(limit + 2):
        if not frontier:
            return
        _fetch(cur, frontier, cache)
        frontier = list(dict.fromkeys(
            child for address in frontier for child in cache[address]
            if child not in cache))


def _expand(cur, address, cache):
    if address not in cache:
        _fetch(cur, [address], cache)
    return cache[address]


def _shown(path):
    """The chain for a message; very long addresses (grown through
    placeholders) are cut, so the error stays one readable line."""
    shown = (EmailAddress.display(a).replace(PROBE, '*') for a in path)
    return ' → '.join(a if len(a) <= 80 else a[:77] + '…' for a in shown)


def _depth_from(cur, start, limit, cache, depths):
    """Longest expansion chain below *start*; raises on a cycle."""
    stack = [(start, iter(_expand(cur, start, cache)))]
    on_path = {start}
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(node)
            depths[node] = 1 + max(
                (depths.get(c, 0) for c in cache[node] if c != node),
                default=-1)
            continue
        if child == node and node in cache.dead_ends:
            path = [entry[0] for entry in stack]
            raise VMMError(_('This change would make mail loop: %s')
                           % _shown(path + [child]), errors.ALIAS_LOOP)
        if child == node or child in depths:
            continue  # Postfix does not expand an address into itself
        if child in on_path:
            path = [entry[0] for entry in stack]
            raise VMMError(_('This change would make mail loop: %s')
                           % _shown(path[path.index(child):] + [child]),
                           errors.ALIAS_LOOP)
        if len(stack) > limit:
            raise VMMError(_('This change would make an alias chain deeper '
                             "than Postfix's virtual_alias_recursion_limit "
                             '(%(limit)d): %(chain)s')
                           % {'limit': limit,
                              'chain': _shown([e[0] for e in stack[:3]]
                                              + ['…', child])},
                           errors.ALIAS_LOOP)
        on_path.add(child)
        stack.append((child, iter(_expand(cur, child, cache))))
    return depths.get(start, 0)


def _pointing_at(cur, addresses, limit):
    """Which aliases have each address as a literal destination, for
    *addresses* and, up to *limit* steps back, for those aliases."""
    sources, frontier = {}, set(addresses)
    for _level in range(limit + 1):
        if not frontier:
            break
        level = list(frontier)
        for address in level:
            sources[address] = set()
        for first in range(0, len(level), BATCH):
            cur.execute("SELECT DISTINCT a.destination, "
                        "a.address || '@' || n.domainname "
                        'FROM alias a JOIN domain_name n ON n.gid = a.gid '
                        'WHERE a.destination = ANY(%s)',
                        (level[first:first + BATCH],))
            for destination, source in cur.fetchall():
                sources[destination].add(source)
        frontier = {source for address in level
                    for source in sources[address] if source not in sources}
    return sources


def _depth_to(address, sources, limit):
    """Longest chain of literal alias destinations leading to *address*
    (in steps, breadth first), from what _pointing_at read."""
    depth, frontier, seen = 0, {address}, {address}
    while frontier and depth <= limit:
        frontier = {source for node in frontier
                    for source in sources.get(node, ())} - seen
        seen |= frontier
        if frontier:
            depth += 1
    return depth


def check(cur, starts, limit):
    """Refuse (72) if expanding any of *starts* loops or nests too deep."""
    cache, depths, below = _Expansions(), {}, {}
    _prefetch(cur, starts, limit, cache)
    for start in starts:
        below[start] = _depth_from(cur, start, limit, cache, depths)
    expanding = [start for start in starts if below[start]]
    sources = _pointing_at(cur, expanding, limit) if expanding else {}
    for start in expanding:
        if below[start] + _depth_to(start, sources, limit) > limit:
            raise VMMError(_('This change would make an alias chain deeper '
                             "than Postfix's virtual_alias_recursion_limit "
                             '(%(limit)d) through %(address)s')
                           % {'limit': limit,
                              'address': EmailAddress.display(start)},
                           errors.ALIAS_LOOP)


def starts_for_alias(cur, gid, localpart):
    """The changed alias under every name of its domain."""
    cur.execute('SELECT domainname FROM domain_name WHERE gid = %s',
                (gid,))
    return ['%s@%s' % (localpart, row[0]) for row in cur.fetchall()]


def starts_for_domain(cur, gid, names=None):
    """For catch-all and alias-domain changes: an unknown local part under
    each name, the domain's aliases whose destinations have placeholders,
    and the aliases and catch-alls elsewhere that point into the domain.

    *names* are the names whose addresses the change affects: a new alias
    domain name only (nothing led there before but what points at it),
    else every name of the domain."""
    if names is None:
        cur.execute('SELECT domainname FROM domain_name WHERE gid = %s',
                    (gid,))
        names = [row[0] for row in cur.fetchall()]
    starts = ['%s@%s' % (PROBE, name) for name in names]
    cur.execute("SELECT DISTINCT a.address || '@' || n.domainname "
                'FROM alias a JOIN domain_name n ON n.gid = a.gid '
                "WHERE a.gid = %s AND strpos(a.destination, '%%') > 0 "
                'AND n.domainname = ANY(%s)', (gid, names))
    starts += [row[0] for row in cur.fetchall()]
    suffixes = ['%@' + name for name in names]
    cur.execute("SELECT DISTINCT a.address || '@' || n.domainname "
                'FROM alias a JOIN domain_name n ON n.gid = a.gid '
                'WHERE a.destination LIKE ANY(%s)', (suffixes,))
    starts += [row[0] for row in cur.fetchall()]
    cur.execute("SELECT DISTINCT %s || '@' || n.domainname "
                'FROM catchall c JOIN domain_name n ON n.gid = c.gid '
                'WHERE c.destination LIKE ANY(%s)', (PROBE, suffixes))
    starts += [row[0] for row in cur.fetchall()]
    return starts
