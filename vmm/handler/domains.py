"""Domains, alias domains and relay domains: the handler's work for the
domain*, aliasdomain* and relaydomain* subcommands."""


from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _, ngettext
from vmm.models.alias import CatchallAlias
from vmm.models.domain import AliasDomain, Domain, RelayDomain
from vmm.models.values import (
    DomainName,
    EmailAddress,
    QuotaLimit,
    ServiceSet,
    Transport,
    check_text,
    display_domain,
)


class DomainWork:
    # -- domains -----------------------------------------------------------

    def domain_add(self, name, transport=None, note=None, postmaster=None):
        """Create a domain and its directory; *postmaster* is the password
        for postmaster@ when domain.auto_postmaster is on."""
        cfg = self.config
        self.require_root()
        name = DomainName(name)
        note = check_text(note, _('note'), multiline=True)
        transport = Transport(transport) if transport is not None else \
            cfg['domain.transport']
        domain = Domain.create(
            self.cur, name, self._new_domain_directory, transport,
            QuotaLimit(cfg['domain.quota_bytes'],
                       cfg['domain.quota_messages']),
            ServiceSet(cfg['domain.smtp'], cfg['domain.pop3'],
                       cfg['domain.imap'], cfg['domain.sieve']),
            (cfg['domain.max_accounts'], cfg['domain.max_aliases'],
             cfg['domain.max_alias_domains']), note)
        self.log(_('domain %s added') % name, name)
        self._warn_others_write('domain.directory_mode')
        self.staging.build_domain(domain.directory, domain.gid,
                                  cfg['domain.directory_mode'])
        for localpart, destination in cfg['domain.default_aliases']:
            self.alias_add('%s@%s' % (localpart, name), [destination])
        if cfg['domain.auto_postmaster'] and postmaster is not None:
            self.user_add('postmaster@%s' % name, postmaster)
        return domain.unicode

    def _new_domain_directory(self, gid):
        """``base/<random hex digit>/<gid>``, where it nests with no other
        domain's directory (an imported one may lie anywhere)."""
        from vmm.models.domain import directory_conflict
        for path in self.jail.new_domain_paths(gid):
            if directory_conflict(self.cur, path) is None:
                return path
        raise VMMError(_('Every possible directory for the new domain lies '
                         'inside or above the directory of another domain'),
                       errors.VMM_ERROR)

    def domain_delete(self, name, delete_directory=None, force=None):
        cfg = self.config
        domain = self._domain(name, lock=True)
        force = cfg['domain.force_deletion'] if force is None else force
        if delete_directory is None:
            delete_directory = cfg['domain.delete_directory']
        if delete_directory:
            self.require_root()
        counts = domain.counts()
        if not force and (counts['accounts'] or counts['aliases'] or
                          counts['relocated'] or counts['catchall']):
            parts = [
                ngettext('%d account', '%d accounts', counts['accounts'])
                % counts['accounts'],
                ngettext('%d alias', '%d aliases', counts['aliases'])
                % counts['aliases'],
                ngettext('%d relocated user', '%d relocated users',
                         counts['relocated']) % counts['relocated'],
                ngettext('%d catch-all destination',
                         '%d catch-all destinations', counts['catchall'])
                % counts['catchall']]
            raise VMMError(
                _("The domain '%(domain)s' still has %(what)s; use --force "
                  "to delete them too") % {'domain': domain.unicode,
                                           'what': ', '.join(parts)},
                errors.ALIAS_AND_ACCOUNT_EXIST)
        domain.delete()
        self.log(_('domain %s deleted') % domain.name, domain.name)
        if delete_directory:
            self.staging.remove(self.cur, domain.directory)

    def domain_info(self, name):
        return self._domain_info(self._domain(name))

    def _domain_info(self, domain):
        from vmm.handler.results import DomainCounts, DomainInfo
        transport, quota, services, counts = domain.summary()
        return DomainInfo(
            name=domain.unicode, gid=domain.gid, directory=domain.directory,
            quota=quota, services=services, transport=transport,
            note=domain.note, max_accounts=domain.max_accounts,
            max_aliases=domain.max_aliases,
            max_alias_domains=domain.max_alias_domains,
            counts=DomainCounts(**counts))

    def domain_quota(self, name, storage, messages=None, force=False):
        quota = QuotaLimit(QuotaLimit.parse_bytes(storage),
                           QuotaLimit.parse_messages(messages or '0'))
        domain = self._domain(name, lock=True)
        reset = domain.set_quota(quota, force)
        self.log(_('domain %(domain)s quota set to bytes=%(bytes)s, '
                   'messages=%(messages)d')
                 % {'domain': domain.name, 'bytes': quota.bytes,
                    'messages': quota.messages}, domain.name)
        return reset

    def domain_services(self, name, enable=(), disable=(), force=False):
        ServiceSet.check_names(list(enable) + list(disable))
        domain = self._domain(name, lock=True)
        services = domain.services.changed(enable, disable)
        reset = domain.set_services(services, force)
        self.log(_('domain %(domain)s services: %(services)s')
                 % {'domain': domain.name,
                    'services': _format_services(services)}, domain.name)
        return reset

    def domain_transport(self, name, transport, force=False):
        transport = Transport(transport)
        domain = self._domain(name, lock=True)
        reset = domain.set_transport(transport, force)
        self.log(_('domain %(domain)s transport set to %(transport)s')
                 % {'domain': domain.name, 'transport': transport},
                 domain.name)
        return reset

    def domain_note(self, name, note):
        note = check_text(note, _('note'), multiline=True)
        domain = self._domain(name, lock=True)
        domain.set_note(note)
        self.log(_('domain %s note changed') % domain.name, domain.name)

    def domain_limits(self, name, **limits):
        domain = self._domain(name, lock=True)
        domain.set_limits(**{'max_' + key: value
                             for key, value in limits.items()
                             if value is not None})
        self.log(_('domain %(domain)s limits: %(limits)s') % {
            'domain': domain.name,
            'limits': ', '.join('%s=%s' % item for item in sorted(
                limits.items()) if item[1] is not None)}, domain.name)
        return self._domain_info(domain)

    def domain_details(self, name, detail):
        """The names domaininfo -d lists — accounts, aliasdomains, aliases,
        catchall, relocated — as stored, streamed."""
        from vmm.models import listing
        domain = self._domain(name)
        kinds = {'accounts': 'account', 'aliases': 'alias',
                 'relocated': 'relocated'}
        if detail in kinds:
            return ('%s@%s' % (row[1], row[2]) for row in listing.addresses(
                self.conn, '%%@%s' % domain.name, (kinds[detail],)))
        if detail == 'aliasdomains':
            return domain.alias_domain_names()
        return CatchallAlias(self.cur, domain).destinations()

    # -- alias domains ------------------------------------------------------

    def aliasdomain_add(self, name, destination):
        name = DomainName(name)
        destination = DomainName(destination)
        domain = AliasDomain.target(self.cur, destination)
        AliasDomain.create(self.cur, name, domain)
        self.check_alias_loops(self._loop_starts_for_domain(domain, [name]))
        self.log(_('alias domain %(alias)s of %(domain)s added')
                 % {'alias': name, 'domain': domain.name}, name, domain.name)

    def aliasdomain_delete(self, name):
        alias = AliasDomain.get(self.cur, DomainName(name))
        alias.delete(self.cur)
        self.log(_('alias domain %s deleted') % alias.name, alias.name)

    def aliasdomain_info(self, name):
        from vmm.handler.results import AliasDomainInfo
        alias = AliasDomain.get(self.cur, DomainName(name))
        return AliasDomainInfo(display_domain(alias.name),
                               alias.domain.unicode)

    def aliasdomain_switch(self, name, destination):
        alias = AliasDomain.get(self.cur, DomainName(name))
        domain = AliasDomain.target(self.cur, DomainName(destination))
        if domain.gid == alias.domain.gid:
            self.warnings.append(
                _("The alias domain '%(alias)s' already belongs to "
                  "'%(domain)s'") % {'alias': display_domain(alias.name),
                                     'domain': domain.unicode})
            return
        alias.switch(self.cur, domain)
        self.check_alias_loops(
            self._loop_starts_for_domain(domain, [alias.name]))
        self.log(_('alias domain %(alias)s moved to %(domain)s')
                 % {'alias': alias.name, 'domain': domain.name},
                 alias.name, domain.name)

    # -- relay domains -------------------------------------------------------

    def relaydomain_add(self, name, transport=None, recipients=()):
        name = DomainName(name)
        transport = Transport(transport) if transport is not None else \
            self.config['misc.relay_transport']
        localparts = []
        for text in recipients:
            address = EmailAddress(text)
            if address.domain != name:
                raise VMMError(_("The recipient '%(address)s' is not in the "
                                 "relay domain '%(domain)s'")
                               % {'address': text,
                                  'domain': display_domain(name)},
                               errors.INVALID_ADDRESS)
            localparts.append(address.localpart)
        RelayDomain.create(self.cur, name, transport, localparts)
        self.log(_('relay domain %s added') % name, name)

    def relaydomain_delete(self, name):
        relay = RelayDomain.get(self.cur, DomainName(name))
        relay.delete()
        self.log(_('relay domain %s deleted') % relay.name, relay.name)

    def relaydomain_info(self, name):
        from vmm.handler.results import RelayDomainInfo
        relay = RelayDomain.get(self.cur, DomainName(name))
        return RelayDomainInfo(relay.unicode, relay.transport,
                               tuple(relay.recipients()), relay.note)


def _format_services(services):
    from vmm.models.values import SERVICES
    return ' '.join(name for name in SERVICES if getattr(services, name)) \
        or '-'
