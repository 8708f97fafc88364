"""Aliases, catch-all destinations and relocated users."""

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.models.shared import insert_rows
from vmm.models.values import EmailAddress, display_order


def _as_shown(destinations):
    """Destinations in the order of their Unicode form, as info shows
    them."""
    return sorted(destinations,
                  key=lambda d: display_order(EmailAddress.display(d)))


def new_destinations(present, destinations):
    """(to add, already present) of *destinations*, each once, in order."""
    added = [d for d in dict.fromkeys(destinations) if d not in present]
    return added, [d for d in destinations if d in present]


class Alias:
    """All destinations of one alias address (``alias`` rows)."""

    def __init__(self, cur, domain, localpart):
        self._cur = cur
        self.domain = domain
        self.localpart = localpart

    @property
    def address(self):
        return '%s@%s' % (self.localpart, self.domain.name)

    @property
    def unicode(self):
        return '%s@%s' % (self.localpart, self.domain.unicode)

    def destinations(self):
        self._cur.execute('SELECT destination FROM alias WHERE gid = %s AND '
                          'address = %s', (self.domain.gid, self.localpart))
        return _as_shown(row[0] for row in self._cur.fetchall())

    def require(self):
        destinations = self.destinations()
        if not destinations:
            raise VMMError(_("The alias '%s' does not exist") % self.unicode,
                           errors.NO_SUCH_ALIAS)
        return destinations

    def insert(self, destinations):
        """Write *destinations* (not present yet) in one statement: the
        lookup cache is then refreshed once, not once per row."""
        insert_aliases(self._cur, [(self.domain.gid, self.localpart, d)
                                   for d in destinations])

    def delete(self, destinations=None):
        """Delete the given destinations, or all; return what was deleted.
        A destination that is not there is an error (exit 53)."""
        present = self.require()
        if destinations is None:
            destinations = present
        missing = [d for d in destinations if d not in present]
        if missing:
            raise VMMError(_("The alias '%(alias)s' has no destination "
                             "'%(dest)s'") % {
                                 'alias': self.unicode,
                                 'dest': EmailAddress.display(missing[0])},
                           errors.NO_SUCH_ALIAS)
        self._cur.execute('DELETE FROM alias WHERE gid = %s AND address = %s '
                          'AND destination = ANY(%s)',
                          (self.domain.gid, self.localpart,
                           list(destinations)))
        return list(destinations)


class CatchallAlias:
    """The catch-all destinations of a domain."""

    def __init__(self, cur, domain):
        self._cur = cur
        self.domain = domain

    def destinations(self):
        self._cur.execute('SELECT destination FROM catchall WHERE gid = %s',
                          (self.domain.gid,))
        return _as_shown(row[0] for row in self._cur.fetchall())

    def add(self, destinations):
        present = set(self.destinations())
        added, skipped = new_destinations(present, destinations)
        insert_catchall(self._cur, [(self.domain.gid, d) for d in added])
        return added, skipped

    def delete(self, destinations=None):
        present = self.destinations()
        if not present:
            raise VMMError(_("The domain '%s' has no catch-all destinations")
                           % self.domain.unicode, errors.NO_SUCH_ALIAS)
        if destinations is None:
            destinations = present
        missing = [d for d in destinations if d not in present]
        if missing:
            raise VMMError(_("The domain '%(domain)s' has no catch-all "
                             "destination '%(dest)s'") % {
                                 'domain': self.domain.unicode,
                                 'dest': EmailAddress.display(missing[0])},
                           errors.NO_SUCH_ALIAS)
        self._cur.execute('DELETE FROM catchall WHERE gid = %s AND '
                          'destination = ANY(%s)',
                          (self.domain.gid, list(destinations)))
        return list(destinations)


class Relocated:
    """A user who moved: Postfix rejects mail and names the new address."""

    def __init__(self, cur, domain, localpart, destination=None):
        self._cur = cur
        self.domain = domain
        self.localpart = localpart
        self.destination = destination

    @property
    def unicode(self):
        return '%s@%s' % (self.localpart, self.domain.unicode)

    @classmethod
    def get(cls, cur, domain, localpart):
        cur.execute('SELECT destination FROM relocated WHERE gid = %s AND '
                    'address = %s', (domain.gid, localpart))
        row = cur.fetchone()
        if row is None:
            raise VMMError(_("The relocated user '%s' does not exist")
                           % ('%s@%s' % (localpart, domain.unicode)),
                           errors.NO_SUCH_RELOCATED)
        return cls(cur, domain, localpart, row[0])

    @classmethod
    def create(cls, cur, domain, localpart, destination):
        insert_relocated(cur, [(domain.gid, localpart, destination)])
        return cls(cur, domain, localpart, destination)

    def delete(self):
        self._cur.execute('DELETE FROM relocated WHERE gid = %s AND '
                          'address = %s', (self.domain.gid, self.localpart))


def insert_aliases(cur, rows):
    """Rows of (gid, address, destination), in one statement a page: the
    lookup cache is then refreshed once, not once per row."""
    insert_rows(cur, 'alias', ('gid', 'address', 'destination'), rows)


def insert_catchall(cur, rows):
    """Rows of (gid, destination)."""
    insert_rows(cur, 'catchall', ('gid', 'destination'), rows)


def insert_relocated(cur, rows):
    """Rows of (gid, address, destination)."""
    insert_rows(cur, 'relocated', ('gid', 'address', 'destination'), rows)
