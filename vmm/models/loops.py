"""The alias-loop guard (SPEC §9).

Before a change to aliases, catch-alls or alias domains commits, follow the
expansion the way Postfix would — through postfix_virtual_alias_map
itself, so aliases, catch-alls, alias domains and placeholders behave
exactly as at delivery — from the addresses the change can affect, and
refuse it when an address reaches itself again or the chain is deeper than
Postfix's virtual_alias_recursion_limit.  Only the affected part of the
graph is read: one indexed lookup per address on the way.
"""

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.models.values import EmailAddress

# A local part no account or alias can have (it is too long): what a
# catch-all answers for.
PROBE = 'vmm-loop-probe-' + 'x' * 60


def _expand(cur, address, cache):
    if address not in cache:
        localpart, _at, domain = address.rpartition('@')
        cur.execute('SELECT destination FROM postfix_virtual_alias_map('
                    '%s, %s)', (localpart, domain))
        cache[address] = [row[0].lower() for row in cur.fetchall()]
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


def _depth_to(cur, address, limit):
    """Longest chain of literal alias destinations leading to *address*."""
    depth, frontier, seen = 0, {address}, {address}
    while frontier and depth <= limit:
        cur.execute("SELECT DISTINCT a.address || '@' || n.domainname "
                    'FROM alias a JOIN domain_name n ON n.gid = a.gid '
                    'WHERE a.destination = ANY(%s)', (list(frontier),))
        frontier = {row[0] for row in cur.fetchall()} - seen
        seen |= frontier
        if frontier:
            depth += 1
    return depth


def check(cur, starts, limit):
    """Refuse (72) if expanding any of *starts* loops or nests too deep."""
    cache, depths = {}, {}
    for start in starts:
        below = _depth_from(cur, start, limit, cache, depths)
        if below and below + _depth_to(cur, start, limit) > limit:
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


def starts_for_domain(cur, gid):
    """For catch-all and alias-domain changes: an unknown local part under
    every name, the domain's aliases whose destinations have placeholders,
    and the aliases and catch-alls elsewhere that point into the domain."""
    cur.execute('SELECT domainname FROM domain_name WHERE gid = %s',
                (gid,))
    names = [row[0] for row in cur.fetchall()]
    starts = ['%s@%s' % (PROBE, name) for name in names]
    cur.execute("SELECT DISTINCT a.address || '@' || n.domainname "
                'FROM alias a JOIN domain_name n ON n.gid = a.gid '
                "WHERE a.gid = %s AND strpos(a.destination, '%%') > 0",
                (gid,))
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
