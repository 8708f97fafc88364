"""DKIM keys: the handler's work for dkimadd, dkiminfo, dkimrotate,
dkimactivate and dkimdelete, and the step of purge that retires keys."""

import datetime

from vmm import dkim, errors
from vmm.errors import VMMError
from vmm.handler.results import DkimKeyInfo, DkimRecord, RetiredDkimKey
from vmm.i18n import _
from vmm.models import dkim as keys_table


def _record(name, key):
    value = dkim.record_value(key.algorithm, key.public_key)
    return DkimRecord(dkim.record_name(key.selector, name),
                      tuple(dkim.split_strings(value)))


class DkimWork:
    # -- DKIM keys --------------------------------------------------------

    def _new_selector(self, gid, wanted, taken):
        if wanted is not None:
            selector = dkim.check_selector(wanted)
            if selector in taken:
                raise VMMError(_("The domain already has a DKIM key with "
                                 "the selector '%s'") % selector,
                               errors.INVALID_OPTION)
            return selector
        base = 'vmm' + datetime.date.today().strftime('%Y%m%d')
        selector, number = base, 1
        while selector in taken:
            number += 1
            selector = '%s-%d' % (base, number)
        return selector

    def _add_key(self, domain, selector, algorithm, present):
        selector = self._new_selector(domain.gid, selector,
                                      {key.selector for key in present})
        private, public = dkim.generate(algorithm)
        keys_table.insert(self.cur, domain.gid, selector, algorithm,
                          private, public)
        self.log(_('domain %(domain)s: DKIM key %(selector)s (%(algorithm)s) '
                   'added, published')
                 % {'domain': domain.name, 'selector': selector,
                    'algorithm': algorithm}, domain.name)
        return selector

    def dkim_add(self, fqdn, selector=None, algorithm=None):
        domain = self._domain(fqdn, lock=True)
        present = keys_table.keys(self.cur, domain.gid, lock=True)
        if any(key.state != 'retired' for key in present):
            raise VMMError(_("The domain %s already has a DKIM key; use "
                             "dkimrotate for a new one") % domain.unicode,
                           errors.VMM_ERROR)
        return self._add_key(domain, selector,
                             algorithm or dkim.DEFAULT_ALGORITHM, present)

    def dkim_rotate(self, fqdn, selector=None):
        """A new published key with the active key's algorithm."""
        domain = self._domain(fqdn, lock=True)
        present = keys_table.keys(self.cur, domain.gid, lock=True)
        active = [key for key in present if key.state == 'active']
        if not active:
            raise VMMError(_("The domain %s has no active DKIM key to "
                             "rotate; use dkimadd and dkimactivate")
                           % domain.unicode, errors.VMM_ERROR)
        return self._add_key(domain, selector, active[0].algorithm, present)

    def dkim_info(self, fqdn):
        """Every key of the domain, newest first, with the TXT records to
        publish (one per name of the domain) — never the private key."""
        domain = self._domain(fqdn)
        names = keys_table.names(self.cur, domain.gid)
        return [DkimKeyInfo(key.selector, key.algorithm, key.state,
                            key.since,
                            tuple(_record(name, key) for name in names))
                for key in keys_table.keys(self.cur, domain.gid)]

    def dkim_activate(self, fqdn, dns_check=True):
        """Make the newest published key active once DNS publishes it
        under every name of the domain; the active one before retires."""
        domain = self._domain(fqdn, lock=True)
        present = keys_table.keys(self.cur, domain.gid, lock=True)
        published = [key for key in present if key.state == 'published']
        if not published:
            raise VMMError(_("The domain %s has no published DKIM key to "
                             "activate") % domain.unicode, errors.VMM_ERROR)
        new = published[0]
        if dns_check:
            nameserver = self.config['dkim.nameserver'] or None
            for name in keys_table.names(self.cur, domain.gid):
                record = dkim.record_name(new.selector, name)
                if not dkim.is_published(record, new.algorithm,
                                         new.public_key, nameserver):
                    raise VMMError(_("DNS does not publish the TXT record "
                                     "%s of the new key (or it differs); "
                                     "publish it as dkiminfo shows and "
                                     "try again") % record, errors.VMM_ERROR)
        for key in present:
            if key.state == 'active':
                keys_table.set_state(self.cur, domain.gid, key.selector,
                                     'retiring')
        keys_table.set_state(self.cur, domain.gid, new.selector, 'active')
        self.log(_('domain %(domain)s: DKIM key %(selector)s active')
                 % {'domain': domain.name, 'selector': new.selector},
                 domain.name)
        return new.selector

    def dkim_delete(self, fqdn, selector=None):
        domain = self._domain(fqdn, lock=True)
        if selector is not None:
            selector = dkim.check_selector(selector)
        removed = keys_table.delete(self.cur, domain.gid, selector)
        if not removed:
            raise VMMError(_("The domain %(domain)s has no DKIM key "
                             "%(selector)s")
                           % {'domain': domain.unicode,
                              'selector': selector or ''},
                           errors.VMM_ERROR)
        self.log(_('domain %(domain)s: DKIM keys deleted: %(selectors)s')
                 % {'domain': domain.name, 'selectors': ', '.join(removed)},
                 domain.name)
        return removed


def retire_dkim_keys(handler, as_of, dry_run):
    """Purge's step: keys retiring for ``[dkim] retire_days`` by *as_of*
    become retired.  Returns, per key, the domain, the selector and the
    TXT record names that may now be removed from DNS."""
    days = handler.config['dkim.retire_days']
    rows = keys_table.retiring_before(
        handler.cur, as_of - datetime.timedelta(days=days))
    done = []
    for gid, domain_name, selector, _algorithm, _public in rows:
        names = keys_table.names(handler.cur, gid)
        done.append(RetiredDkimKey(domain_name, selector, tuple(
            dkim.record_name(selector, name) for name in names)))
        if not dry_run:
            keys_table.set_state(handler.cur, gid, selector, 'retired')
            handler.log(_('domain %(domain)s: DKIM key %(selector)s retired')
                        % {'domain': domain_name, 'selector': selector},
                        domain_name)
    return done
