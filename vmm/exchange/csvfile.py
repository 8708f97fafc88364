"""Importing a CSV file of accounts (``address,password,name``), each
created as ``useradd`` creates it."""

import re

from vmm import errors
from vmm.errors import VMMError
from vmm.exchange import (
    COUNT_KEYS,
    InvalidImport,
    at,
    located,
)
from vmm.i18n import _

_SCHEME_PREFIX = re.compile(r'\{[^{}\s]+\}')
CSV_HEADER = ('address', 'password', 'name')


def import_csv(handler, text, dry_run):
    import csv
    import io

    from vmm.models import shared
    from vmm.models.account import Account
    reader = csv.reader(io.StringIO(text, newline=''), strict=True)

    def rows():
        # (first line of the record, fields): a quoted field may span lines
        end = 0
        try:
            for row in reader:
                yield end + 1, row
                end = reader.line_num
        except csv.Error as err:
            raise InvalidImport(_('line %d') % (end + 1),
                                _('invalid CSV: %s') % err) from None

    records = rows()
    for line, header in records:  # noqa: B007 (the header's, used below)
        if any(field.strip() for field in header):
            break
    else:
        raise InvalidImport('', _('The import file is empty'))
    columns = tuple(field.strip().lower() for field in header)
    if columns not in (CSV_HEADER, CSV_HEADER[:2]):
        raise InvalidImport(_('line %d') % line, _(
            "the first line must be the header 'address,password,name'"))

    checked = _CsvChecker(handler)
    plan = []
    for line, row in records:
        if not any(field.strip() for field in row):
            continue
        where = _('line %d') % line
        if len(row) != len(columns):
            raise InvalidImport(where, _('expected %(expected)d fields, '
                                         'found %(found)d')
                                % {'expected': len(columns),
                                   'found': len(row)})
        plan.append(checked.record(line, *row))

    cfg = handler.config
    cur = handler.cur
    mid = shared.maillocation_id(cur, cfg['mailbox.format'],
                                 cfg['mailbox.root'])
    for line, address, domain, password, name in plan:
        with located(_('line %d') % line):
            account = Account.create(cur, domain, address.localpart,
                                     password, mid, name=name)
            handler.log(_('account %s added') % address, address)
            if not dry_run:
                handler.create_mailbox(account)
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts['accounts'] = len(plan)
    return counts


class _CsvChecker:
    """Checks one CSV record after the other against the database and
    the records before it."""

    def __init__(self, handler):
        self.handler = handler
        self.domains = {}        # ACE name -> (Domain, accounts in use)
        self.seen = {}           # address -> line
        self.added = {}          # gid -> accounts added by the file

    def _field(self, line, field):
        return _('line %(line)d, field %(field)s') % {'line': line,
                                                      'field': field}

    def _domain(self, name):
        from vmm.models.domain import Domain, name_kind
        from vmm.models.values import display_domain
        if name not in self.domains:
            cur = self.handler.cur
            kind = name_kind(cur, name)
            if kind and kind[0] == 'alias':
                primary = Domain.by_gid(cur, kind[1])
                raise VMMError(_("'%(domain)s' is an alias domain; use the "
                                 "address under its primary domain "
                                 "'%(primary)s'")
                               % {'domain': display_domain(name),
                                  'primary': primary.unicode},
                               errors.DOMAIN_ALIAS_EXISTS)
            domain = Domain.get(cur, name, lock=True)
            self.domains[name] = (domain, domain.counts()['accounts'])
        return self.domains[name]

    def record(self, line, address_text, password, name=''):
        from vmm import password as pw
        from vmm.models.account import refuse_existing
        from vmm.models.values import MAX_NAME_LENGTH, EmailAddress, check_text
        where = self._field(line, 'address')
        with at(where):
            address = EmailAddress(address_text.strip())
            domain, in_use = self._domain(address.domain)
            refuse_existing(self.handler.cur, domain, address.localpart)
        key = str(address)
        if key in self.seen:
            raise InvalidImport(where, _("the address '%(address)s' is "
                                         'also on line %(line)d')
                                % {'address': address.unicode,
                                   'line': self.seen[key]})
        self.seen[key] = line
        added = self.added.get(domain.gid, 0) + 1
        if domain.max_accounts and in_use + added > domain.max_accounts:
            raise InvalidImport(where, _("the domain '%(domain)s' may have "
                                         'at most %(limit)d accounts '
                                         '(%(used)d in use)')
                                % {'domain': domain.unicode,
                                   'limit': domain.max_accounts,
                                   'used': in_use + added - 1})
        self.added[domain.gid] = added
        with at(self._field(line, 'password')):
            if not password:
                raise VMMError(_('An empty password is not allowed'))
            if _SCHEME_PREFIX.match(password):
                password_hash = pw.check_hash(password)
            else:
                password_hash = self.handler.hash_password(password, address)
        with at(self._field(line, 'name')):
            name = check_text(name.strip() or None, _('name'),
                              max_length=MAX_NAME_LENGTH)
        return line, address, domain, password_hash, name
