"""Aliases, catch-all destinations, relocated users and the loop guard:
the handler's work for the alias*, catchall* and relocated* subcommands."""


from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _, ngettext
from vmm.models.account import refuse_existing
from vmm.models.alias import Alias, CatchallAlias, Relocated, new_destinations
from vmm.models.domain import name_kind
from vmm.models.values import (
    EmailAddress,
)


class AliasWork:
    # -- aliases, catch-all, relocated ----------------------------------------

    def _destinations(self, texts):
        return [EmailAddress.parse_destination(text) for text in texts]

    def _warn_missing_destinations(self, destinations):
        """Warn about local destinations that do not exist (yet)."""
        from vmm.models.account import address_kind
        for destination in destinations:
            if '%' in destination:
                continue
            localpart, domain_name = destination.rsplit('@', 1)
            kind = name_kind(self.cur, domain_name)
            if kind is None or kind[0] == 'relay':
                continue
            if address_kind(self.cur, kind[1], localpart) is None:
                self.warnings.append(
                    _("The destination '%s' does not exist yet")
                    % EmailAddress.display(destination))

    def _check_expansion_limit(self, count, address):
        limit = self.postconf_int('virtual_alias_expansion_limit', 1000)
        if count > limit:
            raise VMMError(ngettext(
                "The alias '%(alias)s' would have %(count)d destination; "
                "Postfix's virtual_alias_expansion_limit is %(limit)d",
                "The alias '%(alias)s' would have %(count)d destinations; "
                "Postfix's virtual_alias_expansion_limit is %(limit)d",
                count)
                           % {'alias': address, 'count': count,
                              'limit': limit}, errors.TOO_MANY_DESTINATIONS)

    def alias_add(self, text, destinations):
        address, domain = self._primary_address(text)
        destinations = self._destinations(destinations)
        from vmm.models.account import address_kind
        kind = address_kind(self.cur, domain.gid, address.localpart)
        if kind == 'account':
            raise VMMError(_("There is already an account with the address "
                             "'%s'") % address.unicode, errors.ACCOUNT_EXISTS)
        if kind == 'relocated':
            raise VMMError(_("There is already a relocated user with the "
                             "address '%s'") % address.unicode,
                           errors.RELOCATED_EXISTS)
        alias = Alias(self.cur, domain, address.localpart)
        present = alias.destinations()
        added, skipped = new_destinations(set(present), destinations)
        # Before anything is written: a refused alias costs no work.
        self._check_expansion_limit(len(present) + len(added),
                                    address.unicode)
        if not present:
            domain.check_limit('aliases')
        alias.insert(added)
        for destination in skipped:
            self.warnings.append(
                _("The destination '%(dest)s' is already in the alias "
                  "'%(alias)s'") % {'dest': EmailAddress.display(destination),
                                    'alias': address.unicode})
        self._warn_missing_destinations(added)
        if added:
            self.check_alias_loops(
                self._loop_starts_for_alias(domain, address.localpart))
            self.log(_('alias %(alias)s: added %(dests)s')
                     % {'alias': address, 'dests': ', '.join(added)}, address)
        return added

    def alias_delete(self, text, destinations=None):
        address, domain = self._owner(text)
        alias = Alias(self.cur, domain, address.localpart)
        deleted = alias.delete(self._destinations(destinations)
                               if destinations else None)
        self.log(_('alias %(alias)s: deleted %(dests)s')
                 % {'alias': alias.address, 'dests': ', '.join(deleted)},
                 alias.address)

    def alias_info(self, text):
        address, domain = self._owner(text)
        from vmm.models.account import address_kind
        alias = Alias(self.cur, domain, address.localpart)
        kind = address_kind(self.cur, domain.gid, address.localpart)
        if kind == 'account':
            raise VMMError(_("'%s' is an account, not an alias")
                           % address.unicode, errors.ACCOUNT_EXISTS)
        if kind == 'relocated':
            raise VMMError(_("'%s' is a relocated user, not an alias")
                           % address.unicode, errors.RELOCATED_EXISTS)
        from vmm.handler.results import DestinationsInfo
        return DestinationsInfo(alias.unicode, tuple(alias.require()))

    def catchall_add(self, name, destinations):
        domain = self._domain(name, lock=True)
        destinations = self._destinations(destinations)
        catchall = CatchallAlias(self.cur, domain)
        present = catchall.destinations()
        added, _skipped = new_destinations(set(present), destinations)
        self._check_expansion_limit(len(present) + len(added),
                                    '@' + domain.unicode)
        if not present:
            domain.check_limit('aliases')
        added, skipped = catchall.add(destinations)
        for destination in skipped:
            self.warnings.append(
                _("The destination '%(dest)s' is already a catch-all "
                  "destination of '%(domain)s'")
                % {'dest': EmailAddress.display(destination),
                   'domain': domain.unicode})
        self._warn_missing_destinations(added)
        if added:
            self.check_alias_loops(self._loop_starts_for_domain(domain))
            self.log(_('catch-all %(domain)s: added %(dests)s')
                     % {'domain': domain.name, 'dests': ', '.join(added)},
                     domain.name)

    def catchall_delete(self, name, destinations=None):
        domain = self._domain(name, lock=True)
        deleted = CatchallAlias(self.cur, domain).delete(
            self._destinations(destinations) if destinations else None)
        self.log(_('catch-all %(domain)s: deleted %(dests)s')
                 % {'domain': domain.name, 'dests': ', '.join(deleted)},
                 domain.name)

    def catchall_info(self, name):
        from vmm.handler.results import DestinationsInfo
        domain = self._domain(name)
        return DestinationsInfo(
            domain.unicode,
            tuple(CatchallAlias(self.cur, domain).destinations()))

    def relocated_add(self, text, destination):
        address, domain = self._primary_address(text)
        destination = EmailAddress.parse_destination(destination,
                                                     placeholders=False)
        if destination == str(address):
            raise VMMError(_("The relocated address '%s' and its new address "
                             "are the same") % address.unicode,
                           errors.RELOCATED_ADDR_DEST_IDENTICAL)
        refuse_existing(self.cur, domain, address.localpart)
        Relocated.create(self.cur, domain, address.localpart, destination)
        self.log(_('relocated user %(address)s → %(dest)s')
                 % {'address': address, 'dest': destination}, address)

    def relocated_delete(self, text):
        address, domain = self._owner(text)
        relocated = Relocated.get(self.cur, domain, address.localpart)
        relocated.delete()
        self.log(_('relocated user %s deleted') % address, address)

    def relocated_info(self, text):
        from vmm.handler.results import RelocatedInfo
        address, domain = self._owner(text)
        relocated = Relocated.get(self.cur, domain, address.localpart)
        return RelocatedInfo(relocated.unicode, relocated.destination)

    def check_alias_loops(self, starts):
        """Refuse (72) a change after which mail would loop (vmm(1))."""
        from vmm.models import loops
        limit = self.postconf_int('virtual_alias_recursion_limit', 1000)
        loops.check(self.cur, starts, limit)

    def _loop_starts_for_domain(self, domain, names=None):
        from vmm.models import loops
        return loops.starts_for_domain(self.cur, domain.gid, names)

    def _loop_starts_for_alias(self, domain, localpart):
        from vmm.models import loops
        return loops.starts_for_alias(self.cur, domain.gid, localpart)
