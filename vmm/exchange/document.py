"""Checking a JSON document, record by record, into the plan to write;
the first problem names its record and field (exit 73)."""

import os

from vmm.exchange import (
    FORMAT,
    MAX_BYTES,
    MAX_DIRECTORY,
    MAX_ID,
    MAX_INT,
    MAX_MAILBOX_DIRECTORY,
    VERSION,
    InvalidImport,
    at,
    dump,
)
from vmm.i18n import _, ngettext


def _key(where, key):
    return '%s.%s' % (where, key) if where else key


def _object(value, where, required, optional=()):
    if not isinstance(value, dict):
        raise InvalidImport(where, _('expected a JSON object'))
    for key in required:
        if key not in value:
            raise InvalidImport(_key(where, key), _('this key is missing'))
    for key in value:
        if key not in required and key not in optional:
            raise InvalidImport(_key(where, key), _('unknown key'))
    return value


def _integer(value, where, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or \
            not low <= value <= high:
        raise InvalidImport(where, _('expected a whole number from '
                                     '%(low)d to %(high)d')
                            % {'low': low, 'high': high})
    return value


def _string(value, where, nullable=False):
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise InvalidImport(where, _('expected a string or null')
                            if nullable else _('expected a string'))
    return value


def _array(value, where):
    if not isinstance(value, list):
        raise InvalidImport(where, _('expected a JSON array'))
    return value


def _boolean(value, where):
    if not isinstance(value, bool):
        raise InvalidImport(where, _('expected true or false'))
    return value


def _quota_value(value, where, nullable=False):
    from vmm.models.values import QuotaLimit
    if value is None and nullable:
        return None
    _object(value, where, ('bytes', 'messages'))
    return QuotaLimit(
        _integer(value['bytes'], _key(where, 'bytes'), 0, MAX_BYTES),
        _integer(value['messages'], _key(where, 'messages'), 0, MAX_INT))


def _services_value(value, where, nullable=False):
    from vmm.models.values import SERVICES, ServiceSet
    if value is None and nullable:
        return None
    _object(value, where, SERVICES)
    return ServiceSet(*(_boolean(value[name], _key(where, name))
                        for name in SERVICES))


def _transport_value(value, where, nullable=False):
    from vmm.models.values import Transport
    value = _string(value, where, nullable)
    if value is None:
        return None
    with at(where):
        return Transport(value)


def _text_value(value, where, what, multiline=False, max_length=None):
    from vmm.models.values import check_text
    value = _string(value, where, nullable=True)
    with at(where):
        return check_text(value, what, multiline=multiline,
                          max_length=max_length)


def _domain_value(value, where):
    from vmm.models.values import DomainName
    value = _string(value, where)
    with at(where):
        return DomainName(value)


def _localpart_value(value, where):
    from vmm.models.values import check_localpart
    value = _string(value, where)
    with at(where):
        return check_localpart(value)


def _destination_value(value, where, placeholders=True):
    from vmm.models.values import EmailAddress
    value = _string(value, where)
    with at(where):
        return EmailAddress.parse_destination(value, placeholders)


class _Unique:
    """Values that must occur once in the document; remembers where."""

    def __init__(self, message):
        self.seen = {}
        self.message = message

    def add(self, value, where):
        if value in self.seen:
            raise InvalidImport(where, self.message % {
                'value': value, 'other': self.seen[value]})
        self.seen[value] = where


class _Plan:
    """The checked contents of a JSON document, ready to be written."""

    def __init__(self):
        self.domains = []
        self.relays = []
        self.names = _Unique(_("'%(value)s' is also named in %(other)s"))
        self.gids = _Unique(_('the GID %(value)s is also used in '
                              '%(other)s'))
        self.directories = _Unique(_("the directory '%(value)s' is also "
                                     'used in %(other)s'))


# A domain's arrays of records: checked and written as they are read.
RECORDS = ('accounts', 'aliases', 'relocated')


class Counted:
    """An array of records the outline of a document only counted."""

    def __init__(self, length):
        self.length = length


def _count(value, where):
    if isinstance(value, Counted):
        return value.length
    return len(_array(value, where))


class _Record:
    def __init__(self, **values):
        self.__dict__.update(values)


def _check_directory(handler, value, where):
    value = _string(value, where)
    if '\0' in value or not os.path.isabs(value) or \
            os.path.normpath(value) != value or len(value) > MAX_DIRECTORY:
        raise InvalidImport(where, _('expected an absolute, normalised '
                                     'path of at most %d characters')
                            % MAX_DIRECTORY)
    from vmm.staging import STAGING
    with at(where):
        if value in (handler.jail.base_directory,
                     os.path.join(handler.jail.base_directory, STAGING)) or \
                value.startswith(os.path.join(handler.jail.base_directory,
                                              STAGING, '')):
            raise InvalidImport(where, _('this is misc.base_directory '
                                         'itself or vmm\'s staging area'))
        # refuses a symbolic link anywhere along the path
        handler.jail.check_directory(value)
    return value


def _check_mailbox(handler, value, where):
    from vmm.mailbox import FORMATS
    if value is None:
        return handler.config['mailbox.format'], handler.config[
            'mailbox.root']
    _object(value, where, ('format', 'directory'))
    fmt = _string(value['format'], _key(where, 'format'))
    if fmt not in FORMATS:
        raise InvalidImport(_key(where, 'format'),
                            _('expected one of %s') % ', '.join(FORMATS))
    directory = _string(value['directory'], _key(where, 'directory'))
    if not directory or directory in ('.', '..') or '/' in directory or \
            len(directory) > MAX_MAILBOX_DIRECTORY or \
            not directory.isprintable():
        raise InvalidImport(_key(where, 'directory'),
                            _('expected a single directory name of at most '
                              '%d characters') % MAX_MAILBOX_DIRECTORY)
    return fmt, directory


def check_account(handler, value, where):
    """One record of a domain's accounts."""
    from vmm import password as pw
    from vmm.models.values import MAX_NAME_LENGTH
    _object(value, where, ('local_part', 'uid', 'password'),
            ('name', 'note', 'transport', 'quota', 'services', 'mailbox'))
    localpart = _localpart_value(value['local_part'],
                                 _key(where, 'local_part'))
    uid = _integer(value['uid'], _key(where, 'uid'), 1, MAX_ID)
    password = _string(value['password'], _key(where, 'password'))
    with at(_key(where, 'password')):
        password = pw.check_hash(password)
    return _Record(
        where=where, localpart=localpart, uid=uid, password=password,
        name=_text_value(value.get('name'), _key(where, 'name'), _('name'),
                         max_length=MAX_NAME_LENGTH),
        note=_text_value(value.get('note'), _key(where, 'note'), _('note'),
                         multiline=True),
        transport=_transport_value(value.get('transport'),
                                   _key(where, 'transport'), True),
        quota=_quota_value(value.get('quota'), _key(where, 'quota'), True),
        services=_services_value(value.get('services'),
                                 _key(where, 'services'), True),
        mailbox=_check_mailbox(handler, value.get('mailbox'),
                               _key(where, 'mailbox')))


def _check_destinations(values, where, limit):
    destinations = []
    seen = _Unique(_("the destination '%(value)s' is also in %(other)s"))
    for index, text in enumerate(values):
        at = '%s[%d]' % (where, index)
        destination = _destination_value(text, at)
        seen.add(destination, at)
        destinations.append(destination)
    if len(destinations) > limit:
        raise InvalidImport(where, ngettext(
            "%(count)d destination; Postfix's virtual_alias_expansion_limit "
            'is %(limit)d',
            "%(count)d destinations; Postfix's virtual_alias_expansion_limit "
            'is %(limit)d', len(destinations))
                            % {'count': len(destinations), 'limit': limit})
    return destinations


def _check_domain(handler, value, where, plan, expansion_limit):
    cfg = handler.config
    from vmm.models.values import QuotaLimit, ServiceSet
    _object(value, where, ('name', 'gid', 'directory'),
            ('transport', 'quota', 'services', 'limits', 'note',
             'alias_domains', 'catchall', 'accounts', 'aliases',
             'relocated'))
    name = _domain_value(value['name'], _key(where, 'name'))
    plan.names.add(name, _key(where, 'name'))
    gid = _integer(value['gid'], _key(where, 'gid'), 1, MAX_ID)
    plan.gids.add(gid, _key(where, 'gid'))
    directory = _check_directory(handler, value['directory'],
                                 _key(where, 'directory'))
    plan.directories.add(directory, _key(where, 'directory'))
    transport = _transport_value(value['transport'], _key(
        where, 'transport')) if 'transport' in value else \
        cfg['domain.transport']
    quota = _quota_value(value['quota'], _key(where, 'quota')) \
        if 'quota' in value else QuotaLimit(cfg['domain.quota_bytes'],
                                            cfg['domain.quota_messages'])
    services = _services_value(value['services'], _key(
        where, 'services')) if 'services' in value else \
        ServiceSet(cfg['domain.smtp'], cfg['domain.pop3'],
                   cfg['domain.imap'], cfg['domain.sieve'])
    if 'limits' in value:
        at = _key(where, 'limits')
        limits = _object(value['limits'], at,
                         ('accounts', 'aliases', 'alias_domains'))
        limits = tuple(_integer(limits[key], _key(at, key), 0, MAX_INT)
                       for key in ('accounts', 'aliases', 'alias_domains'))
    else:
        limits = (cfg['domain.max_accounts'], cfg['domain.max_aliases'],
                  cfg['domain.max_alias_domains'])
    note = _text_value(value.get('note'), _key(where, 'note'), _('note'),
                       multiline=True)

    at = _key(where, 'alias_domains')
    alias_names = []
    for index, text in enumerate(_array(value.get('alias_domains', []),
                                        at)):
        alias = _domain_value(text, '%s[%d]' % (at, index))
        plan.names.add(alias, '%s[%d]' % (at, index))
        alias_names.append(alias)

    catchall = _check_destinations(
        _array(value.get('catchall', []), _key(where, 'catchall')),
        _key(where, 'catchall'), expansion_limit)

    counts = {key: _count(value.get(key, []), _key(where, key))
              for key in RECORDS}
    used = {'accounts': counts['accounts'],
            'aliases': counts['aliases'] + (1 if catchall else 0),
            'alias_domains': len(alias_names)}
    for key, limit in zip(('accounts', 'aliases', 'alias_domains'),
                          limits):
        if limit and used[key] > limit:
            raise InvalidImport(_key(where, key), _(
                '%(used)d exceed the limit of %(limit)d (limits.%(key)s)')
                % {'used': used[key], 'limit': limit, 'key': key})

    return _Record(where=where, name=name, gid=gid, directory=directory,
                   transport=transport, quota=quota, services=services,
                   limits=limits, note=note, alias_names=alias_names,
                   catchall=catchall, counts=counts,
                   expansion_limit=expansion_limit)


def check_alias(value, where, domain):
    """One record of a domain's aliases: (local part, destinations)."""
    _object(value, where, ('local_part', 'destinations'))
    localpart = _localpart_value(value['local_part'],
                                 _key(where, 'local_part'))
    dest_at = _key(where, 'destinations')
    destinations = _check_destinations(
        _array(value['destinations'], dest_at), dest_at,
        domain.expansion_limit)
    if not destinations:
        raise InvalidImport(dest_at, _('an alias needs at least one '
                                       'destination'))
    return localpart, destinations


def check_relocated(value, where, domain):
    """One record of a domain's relocated users: (local part, new
    address)."""
    _object(value, where, ('local_part', 'destination'))
    localpart = _localpart_value(value['local_part'],
                                 _key(where, 'local_part'))
    destination = _destination_value(
        value['destination'], _key(where, 'destination'), False)
    if destination == '%s@%s' % (localpart, domain.name):
        raise InvalidImport(_key(where, 'destination'),
                            _('the new address is the relocated '
                              'address itself'))
    return localpart, destination


def _check_relay(handler, value, where, plan):
    _object(value, where, ('name',), ('transport', 'note', 'recipients'))
    name = _domain_value(value['name'], _key(where, 'name'))
    plan.names.add(name, _key(where, 'name'))
    transport = _transport_value(value['transport'], _key(
        where, 'transport')) if 'transport' in value else \
        handler.config['misc.relay_transport']
    note = _text_value(value.get('note'), _key(where, 'note'), _('note'),
                       multiline=True)
    at = _key(where, 'recipients')
    recipients = []
    seen = _Unique(_("'%(value)s' is also in %(other)s"))
    for index, text in enumerate(_array(value.get('recipients', []), at)):
        localpart = _localpart_value(text, '%s[%d]' % (at, index))
        seen.add(localpart, '%s[%d]' % (at, index))
        recipients.append(localpart)
    return _Record(where=where, name=name, transport=transport, note=note,
                   recipients=recipients)


def check_document(handler, document):
    """Check the outline of the document (its records only counted, see
    :mod:`.importing`); the plan to write."""
    from vmm.handler import postconf_int
    # What it is before what is missing: {"bad": 1} is not a vmm export.
    if isinstance(document, dict) and document.get('format') != FORMAT:
        raise InvalidImport('format', _("not a vmm export (expected "
                                        "'%s')") % FORMAT)
    _object(document, '', ('format', 'version'),
            ('domains', 'relay_domains'))
    if type(document['version']) is not int or \
            document['version'] != VERSION:
        raise InvalidImport('version', _('unsupported version %(version)s '
                                         '(this vmm reads version '
                                         '%(supported)d)')
                            % {'version': dump(document['version']),
                               'supported': VERSION})
    expansion_limit = postconf_int(handler.config['bin.postconf'],
                                   'virtual_alias_expansion_limit', 1000)
    plan = _Plan()
    for index, value in enumerate(_array(document.get('domains', []),
                                         'domains')):
        plan.domains.append(_check_domain(
            handler, value, 'domains[%d]' % index, plan, expansion_limit))
    for index, value in enumerate(_array(document.get('relay_domains', []),
                                         'relay_domains')):
        plan.relays.append(_check_relay(
            handler, value, 'relay_domains[%d]' % index, plan))
    _refuse_nested_directories(plan)
    return plan


def _refuse_nested_directories(plan):
    """No domain directory of the document inside another's: sorted by
    their components, a directory is followed by those below it."""
    ordered = sorted(plan.directories.seen, key=lambda p: p.split('/'))
    for outer, inner in zip(ordered, ordered[1:]):
        if inner.startswith(outer + '/'):
            raise InvalidImport(plan.directories.seen[inner], _(
                "the directory '%(inner)s' lies inside the directory "
                "'%(outer)s' of %(other)s") % {
                    'inner': inner, 'outer': outer,
                    'other': plan.directories.seen[outer]})


def check_against_database(cur, plan):
    """Refuse (73) what exists already: names, GIDs, directories (the
    accounts' UIDs are checked as they are written)."""
    from vmm.models.domain import refuse_taken
    from vmm.models.values import display_domain
    names = list(plan.names.seen)
    cur.execute('SELECT domainname FROM domain_name WHERE domainname = '
                'ANY(%(n)s) UNION SELECT domainname FROM relay_domain '
                'WHERE domainname = ANY(%(n)s)', {'n': names})
    taken = {row[0] for row in cur.fetchall()}
    for name in names:
        if name in taken:
            with at(plan.names.seen[name]):
                refuse_taken(cur, name)
    owner = 'domain_data d JOIN domain_name n ON n.gid = d.gid AND ' \
        'n.is_primary'
    _refuse_existing_keys(
        cur, 'SELECT d.gid, n.domainname FROM %s WHERE d.gid = ANY(%%s)'
        % owner, plan.gids.seen, display_domain,
        _("the GID %(key)d is already the GID of the domain '%(owner)s'"))
    _refuse_existing_keys(
        cur, 'SELECT d.domaindir, n.domainname FROM %s WHERE d.domaindir = '
        'ANY(%%s)' % owner, plan.directories.seen, display_domain,
        _("the directory '%(key)s' is already the directory of the "
          "domain '%(owner)s'"))
    cur.execute(
        'SELECT s.path, n.domainname, d.domaindir '
        'FROM unnest(%%s::text[]) s(path) JOIN %s '
        "ON starts_with(s.path, d.domaindir || '/') "
        "OR starts_with(d.domaindir, s.path || '/')" % owner,
        (list(plan.directories.seen),))
    for path, name, directory in cur.fetchall():
        raise InvalidImport(plan.directories.seen[path], _(
            "the directory '%(path)s' and '%(directory)s', the directory of "
            "the domain '%(owner)s', lie one inside the other")
            % {'path': path, 'directory': directory,
               'owner': display_domain(name)})


def _refuse_existing_keys(cur, sql, seen, show, message):
    """Refuse (73) the first of the document's *seen* keys (key → where
    it stands) that *sql* finds in use, naming its owner."""
    cur.execute(sql, (list(seen),))
    taken = dict(cur.fetchall())
    for key, where in seen.items():
        if key in taken:
            raise InvalidImport(where, message % {
                'key': key, 'owner': show(taken[key])})
