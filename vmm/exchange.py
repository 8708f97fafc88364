"""Export and import (SPEC §9) and the reader of the audit log.

``export`` writes one JSON document, format ``vmm-export`` version 1 (the
man page documents every key), streamed domain by domain from server-side
cursors of one read-only snapshot, so that memory does not grow with the
number of accounts.

``import`` loads such a document, or a CSV file of accounts
(``address,password,name``), in the handler's one transaction: everything
is checked first, the first problem is an :class:`InvalidImport` (exit 73)
naming the record and the field, an object that exists already is such a
problem, and ``--dry-run`` rolls back.  A JSON import keeps GIDs, UIDs and
directories and creates missing domain directories and mailboxes after the
commit; a CSV import creates accounts as ``useradd`` does.
"""

import contextlib
import json
import os
import re
import sys

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _, ngettext

FORMAT = 'vmm-export'
VERSION = 1

MAX_ID = 4294967294            # the highest GID/UID the sequences hand out
MAX_INT = 2 ** 31 - 1          # integer columns
MAX_BYTES = 2 ** 63 - 1        # bigint columns
MAX_DIRECTORY = 4096           # domain_data.domaindir
MAX_MAILBOX_DIRECTORY = 20     # maillocation.directory
_WARNINGS_SHOWN = 10           # directory problems after the commit

COUNT_KEYS = ('domains', 'alias_domains', 'accounts', 'aliases', 'catchall',
              'relocated', 'relay_domains')


class InvalidImport(VMMError):
    """The import file is unusable; the message starts with the record and
    field (``domains[2].accounts[5].uid: …`` or ``line 3, field
    address: …``)."""

    def __init__(self, where, message):
        super().__init__('%s: %s' % (where, message) if where else message,
                         errors.IMPORT_INVALID)


@contextlib.contextmanager
def _at(where):
    """Turn a value error raised inside into an InvalidImport at *where*."""
    try:
        yield
    except InvalidImport:
        raise
    except VMMError as err:
        raise InvalidImport(where, err.msg) from None


@contextlib.contextmanager
def _located(where):
    """Prefix *where* to an error of the environment, keeping its code."""
    try:
        yield
    except InvalidImport:
        raise
    except VMMError as err:
        raise VMMError('%s: %s' % (where, err.msg), err.code) from None


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------

_NAMES_FILTER = '(%(all)s OR n.domainname = ANY(%(names)s))'

_DOMAINS_SQL = """
    SELECT d.gid, n.domainname, d.domaindir, t.transport, q.bytes,
           q.messages, s.smtp, s.pop3, s.imap, s.sieve, d.max_accounts,
           d.max_aliases, d.max_alias_domains, d.note,
           ARRAY(SELECT a.domainname FROM domain_name a
                  WHERE a.gid = d.gid AND NOT a.is_primary
                  ORDER BY a.domainname COLLATE "C"),
           ARRAY(SELECT c.destination FROM catchall c WHERE c.gid = d.gid
                  ORDER BY c.destination COLLATE "C")
      FROM domain_data d
      JOIN domain_name n ON n.gid = d.gid AND n.is_primary
      JOIN transport t ON t.tid = d.tid
      JOIN quotalimit q ON q.qid = d.qid
      JOIN service_set s ON s.ssid = d.ssid
     WHERE """ + _NAMES_FILTER + """
     ORDER BY n.domainname COLLATE "C"
"""

_ACCOUNTS_SQL = """
    SELECT u.gid, u.local_part, u.uid, u.passwd, u.name, u.note,
           t.transport, q.bytes, q.messages, s.smtp, s.pop3, s.imap,
           s.sieve, f.format, m.directory
      FROM users u
      JOIN domain_name n ON n.gid = u.gid AND n.is_primary
      JOIN maillocation m ON m.mid = u.mid
      JOIN mailboxformat f ON f.fid = m.fid
      LEFT JOIN transport t ON t.tid = u.tid
      LEFT JOIN quotalimit q ON q.qid = u.qid
      LEFT JOIN service_set s ON s.ssid = u.ssid
     WHERE """ + _NAMES_FILTER + """
     ORDER BY n.domainname COLLATE "C", u.local_part COLLATE "C"
"""

_ALIASES_SQL = """
    SELECT a.gid, a.address,
           array_agg(a.destination ORDER BY a.destination COLLATE "C")
      FROM alias a
      JOIN domain_name n ON n.gid = a.gid AND n.is_primary
     WHERE """ + _NAMES_FILTER + """
     GROUP BY a.gid, n.domainname, a.address
     ORDER BY n.domainname COLLATE "C", a.address COLLATE "C"
"""

_RELOCATED_SQL = """
    SELECT r.gid, r.address, r.destination
      FROM relocated r
      JOIN domain_name n ON n.gid = r.gid AND n.is_primary
     WHERE """ + _NAMES_FILTER + """
     ORDER BY n.domainname COLLATE "C", r.address COLLATE "C"
"""

_RELAYS_SQL = """
    SELECT n.domainname, t.transport, n.note,
           ARRAY(SELECT r.local_part FROM relay_recipient r
                  WHERE r.domainname = n.domainname
                  ORDER BY r.local_part COLLATE "C")
      FROM relay_domain n JOIN transport t ON t.tid = n.tid
     WHERE """ + _NAMES_FILTER + """
     ORDER BY n.domainname COLLATE "C"
"""


def _stream(conn, name, sql, params):
    """Rows of *sql* from a server-side cursor, a few thousand at a time."""
    with conn.cursor(name=name) as cur:
        cur.itersize = 2000
        cur.execute(sql, params)
        yield from cur


class _Rows:
    """Rows ordered like the domains, taken domain by domain."""

    def __init__(self, rows):
        self._rows = iter(rows)
        self._next = next(self._rows, None)

    def of(self, gid):
        while self._next is not None and self._next[0] == gid:
            row, self._next = self._next, next(self._rows, None)
            yield row


def _dump(value):
    # ASCII only: the document is the same bytes whatever the locale.
    return json.dumps(value, ensure_ascii=True)


def _quota(bytes_, messages):
    return None if bytes_ is None else {'bytes': bytes_,
                                        'messages': messages}


def _services(smtp, pop3, imap, sieve):
    return None if smtp is None else {'smtp': smtp, 'pop3': pop3,
                                      'imap': imap, 'sieve': sieve}


def _account_json(row):
    (_gid, localpart, uid, password, name, note, transport, bytes_,
     messages, smtp, pop3, imap, sieve, fmt, directory) = row
    return {'local_part': localpart, 'uid': uid, 'password': password,
            'name': name, 'note': note, 'transport': transport,
            'quota': _quota(bytes_, messages),
            'services': _services(smtp, pop3, imap, sieve),
            'mailbox': {'format': fmt, 'directory': directory}}


def _write_list(write, items, indent):
    """A JSON array with one item a line, written as the items come."""
    write('[')
    count = 0
    for item in items:
        write((',\n' if count else '\n') + indent + '  ' + _dump(item))
        count += 1
    write(('\n' + indent + ']') if count else ']')
    return count


def chosen_names(cur, names):
    """The primary and relay domains named on the command line, in ACE
    form; alias domain names and unknown names are refused (57)."""
    from vmm.models.domain import Domain, name_kind
    from vmm.models.values import DomainName
    primaries, relays = [], []
    for text in names:
        name = DomainName(text)
        kind = name_kind(cur, name)
        if kind and kind[0] == 'relay':
            relays.append(name)
        else:
            Domain.get(cur, name)      # 57, with a hint for alias domains
            primaries.append(name)
    return list(dict.fromkeys(primaries)), list(dict.fromkeys(relays))


def export(handler, write, names=None):
    """Write the document through *write(text)*; return the counts.

    *names*: the primary and relay domains to export (None: all)."""
    conn = handler.conn
    cur = handler.cur
    if not getattr(handler, 'batch', False):
        # One snapshot for all the cursors below, and nothing written.  (In
        # a batch, the batch's transaction is exported as it stands.)
        conn.rollback()
        cur.execute('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, '
                    'READ ONLY')
    if names:
        primaries, relays = chosen_names(cur, names)
    else:
        primaries = relays = []
    every = not names
    params = {'all': every, 'names': primaries}
    counts = dict.fromkeys(COUNT_KEYS, 0)

    write('{\n  "format": %s,\n  "version": %d,\n  "domains": ['
          % (_dump(FORMAT), VERSION))
    accounts = _Rows(_stream(conn, 'vmm_export_accounts', _ACCOUNTS_SQL,
                             params))
    aliases = _Rows(_stream(conn, 'vmm_export_aliases', _ALIASES_SQL,
                            params))
    relocated = _Rows(_stream(conn, 'vmm_export_relocated', _RELOCATED_SQL,
                              params))
    for row in _stream(conn, 'vmm_export_domains', _DOMAINS_SQL, params):
        (gid, name, directory, transport, bytes_, messages, smtp, pop3,
         imap, sieve, max_accounts, max_aliases, max_alias_domains, note,
         alias_names, catchall) = row
        write(',\n    {\n' if counts['domains'] else '\n    {\n')
        fields = [
            ('name', name), ('gid', gid), ('directory', directory),
            ('transport', transport), ('quota', _quota(bytes_, messages)),
            ('services', _services(smtp, pop3, imap, sieve)),
            ('limits', {'accounts': max_accounts, 'aliases': max_aliases,
                        'alias_domains': max_alias_domains}),
            ('note', note), ('alias_domains', alias_names),
            ('catchall', catchall)]
        for key, value in fields:
            write('      %s: %s,\n' % (_dump(key), _dump(value)))
        counts['domains'] += 1
        counts['alias_domains'] += len(alias_names)
        counts['catchall'] += len(catchall)
        write('      "accounts": ')
        counts['accounts'] += _write_list(
            write, (_account_json(r) for r in accounts.of(gid)), '      ')
        write(',\n      "aliases": ')
        counts['aliases'] += _write_list(
            write, ({'local_part': r[1], 'destinations': r[2]}
                    for r in aliases.of(gid)), '      ')
        write(',\n      "relocated": ')
        counts['relocated'] += _write_list(
            write, ({'local_part': r[1], 'destination': r[2]}
                    for r in relocated.of(gid)), '      ')
        write('\n    }')
    write('\n  ]' if counts['domains'] else ']')
    write(',\n  "relay_domains": ')
    counts['relay_domains'] = _write_list(write, (
        {'name': r[0], 'transport': r[1], 'note': r[2], 'recipients': r[3]}
        for r in _stream(conn, 'vmm_export_relays', _RELAYS_SQL,
                         {'all': every, 'names': relays})), '  ')
    write('\n}\n')
    return counts


@contextlib.contextmanager
def output_file(path):
    """A ``write(text)`` for *path* (None or ``-``: standard output).

    A file is written under a temporary name, mode 0600 (it holds password
    hashes), and renamed into place only when the export succeeded."""
    if path is None or path == '-':
        stream = sys.stdout
        yield stream.write
        stream.flush()
        return
    import tempfile
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(
            dir=directory, prefix='.%s.' % os.path.basename(path))
    except OSError as err:
        raise VMMError(_("Cannot write the export file '%(file)s': "
                         '%(reason)s') % {'file': path,
                                          'reason': err.strerror},
                       errors.VMM_ERROR) from None
    try:
        with open(fd, 'w', encoding='ascii', newline='\n') as handle:
            yield handle.write
        os.replace(temporary, path)
    except OSError as err:
        _unlink(temporary)
        raise VMMError(_("Cannot write the export file '%(file)s': "
                         '%(reason)s') % {'file': path,
                                          'reason': err.strerror},
                       errors.VMM_ERROR) from None
    except BaseException:
        _unlink(temporary)
        raise


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# ---------------------------------------------------------------------------
# Reading an import file
# ---------------------------------------------------------------------------

def read_import_file(path):
    """The text of the file (``-``: standard input), checked to be UTF-8."""
    if path == '-':
        buffer = getattr(sys.stdin, 'buffer', None)
        data = buffer.read() if buffer is not None else \
            sys.stdin.read().encode('utf-8', 'surrogateescape')
    else:
        try:
            with open(path, 'rb') as handle:
                data = handle.read()
        except OSError as err:
            raise InvalidImport('', _("Cannot read the import file "
                                      "'%(file)s': %(reason)s")
                                % {'file': path,
                                   'reason': err.strerror}) from None
    if data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as err:
        raise InvalidImport(_('line %d') % (data[:err.start].count(b'\n')
                                            + 1),
                            _('not valid UTF-8')) from None
    if not text.strip():
        raise InvalidImport('', _('The import file is empty'))
    return text


def import_file(handler, path, dry_run=False):
    """Import the JSON document or CSV file *path*; return the counts."""
    text = read_import_file(path)
    if not dry_run:
        handler.require_root()
    handler.jail.real_base          # 56 when misc.base_directory is missing
    if text.lstrip().startswith(('{', '[')):
        document = _parse_json(text)
        work = lambda: _import_json(handler, document, dry_run)  # noqa: E731
    else:
        work = lambda: _import_csv(handler, text, dry_run)  # noqa: E731
    if not dry_run:
        return work()
    # Everything up to the commit, then undone: also inside a batch, where
    # what came before stays.
    try:
        with handler.savepoint():
            raise _DryRunDone(work())
    except _DryRunDone as done:
        return done.counts


class _DryRunDone(Exception):
    def __init__(self, counts):
        super().__init__()
        self.counts = counts


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _DuplicateKey(Exception):
    pass


def _parse_json(text):
    def constant(name):
        raise ValueError(_('%s is not allowed') % name)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys,
                          parse_constant=constant)
    except json.JSONDecodeError as err:
        raise InvalidImport(_('line %(line)d, column %(column)d')
                            % {'line': err.lineno, 'column': err.colno},
                            _('invalid JSON: %s') % err.msg) from None
    except _DuplicateKey as err:
        raise InvalidImport('', _("invalid JSON: the key '%s' appears "
                                  'twice in one object') % err.args[0]) \
            from None
    except ValueError as err:
        raise InvalidImport('', _('invalid JSON: %s') % err) from None
    except RecursionError:
        raise InvalidImport('', _('invalid JSON: nested too deeply')) \
            from None


# ---------------------------------------------------------------------------
# Checking a JSON document
# ---------------------------------------------------------------------------

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
    with _at(where):
        return Transport(value)


def _text_value(value, where, what, multiline=False, max_length=None):
    from vmm.models.values import check_text
    value = _string(value, where, nullable=True)
    with _at(where):
        return check_text(value, what, multiline=multiline,
                          max_length=max_length)


def _domain_value(value, where):
    from vmm.models.values import DomainName
    value = _string(value, where)
    with _at(where):
        return DomainName(value)


def _localpart_value(value, where):
    from vmm.models.values import check_localpart
    value = _string(value, where)
    with _at(where):
        return check_localpart(value)


def _destination_value(value, where, placeholders=True):
    from vmm.models.values import EmailAddress
    value = _string(value, where)
    with _at(where):
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
        self.uids = _Unique(_('the UID %(value)s is also used in '
                              '%(other)s'))


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
    with _at(where):
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


def _check_account(handler, value, where, plan):
    from vmm.models.values import MAX_NAME_LENGTH
    from vmm import password as pw
    _object(value, where, ('local_part', 'uid', 'password'),
            ('name', 'note', 'transport', 'quota', 'services', 'mailbox'))
    localpart = _localpart_value(value['local_part'],
                                 _key(where, 'local_part'))
    uid = _integer(value['uid'], _key(where, 'uid'), 1, MAX_ID)
    plan.uids.add(uid, _key(where, 'uid'))
    password = _string(value['password'], _key(where, 'password'))
    with _at(_key(where, 'password')):
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

    localparts = _Unique(_("the address '%(value)s' is also in %(other)s"))
    at = _key(where, 'accounts')
    accounts = []
    for index, item in enumerate(_array(value.get('accounts', []), at)):
        account = _check_account(handler, item, '%s[%d]' % (at, index),
                                 plan)
        localparts.add('%s@%s' % (account.localpart, name),
                       _key(account.where, 'local_part'))
        accounts.append(account)

    at = _key(where, 'aliases')
    aliases = []
    for index, item in enumerate(_array(value.get('aliases', []), at)):
        item_at = '%s[%d]' % (at, index)
        _object(item, item_at, ('local_part', 'destinations'))
        localpart = _localpart_value(item['local_part'],
                                     _key(item_at, 'local_part'))
        localparts.add('%s@%s' % (localpart, name),
                       _key(item_at, 'local_part'))
        dest_at = _key(item_at, 'destinations')
        destinations = _check_destinations(
            _array(item['destinations'], dest_at), dest_at, expansion_limit)
        if not destinations:
            raise InvalidImport(dest_at, _('an alias needs at least one '
                                           'destination'))
        aliases.append((localpart, destinations))

    at = _key(where, 'relocated')
    relocated = []
    for index, item in enumerate(_array(value.get('relocated', []), at)):
        item_at = '%s[%d]' % (at, index)
        _object(item, item_at, ('local_part', 'destination'))
        localpart = _localpart_value(item['local_part'],
                                     _key(item_at, 'local_part'))
        localparts.add('%s@%s' % (localpart, name),
                       _key(item_at, 'local_part'))
        destination = _destination_value(
            item['destination'], _key(item_at, 'destination'), False)
        if destination == '%s@%s' % (localpart, name):
            raise InvalidImport(_key(item_at, 'destination'),
                                _('the new address is the relocated '
                                  'address itself'))
        relocated.append((localpart, destination))

    used = {'accounts': len(accounts),
            'aliases': len(aliases) + (1 if catchall else 0),
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
                   catchall=catchall, accounts=accounts, aliases=aliases,
                   relocated=relocated)


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
    """Check every value of the document; the plan to write."""
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
                            % {'version': _dump(document['version']),
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


def _check_against_database(cur, plan):
    """Refuse (73) what exists already: names, GIDs, directories, UIDs."""
    from vmm.models.domain import refuse_taken
    from vmm.models.values import display_domain
    names = list(plan.names.seen)
    cur.execute('SELECT domainname FROM domain_name WHERE domainname = '
                'ANY(%(n)s) UNION SELECT domainname FROM relay_domain '
                'WHERE domainname = ANY(%(n)s)', {'n': names})
    taken = {row[0] for row in cur.fetchall()}
    for name in names:
        if name in taken:
            with _at(plan.names.seen[name]):
                refuse_taken(cur, name)
    from vmm.models.values import EmailAddress
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
    _refuse_existing_keys(
        cur, "SELECT u.uid, u.local_part || '@' || n.domainname FROM users u "
        'JOIN domain_name n ON n.gid = u.gid AND n.is_primary '
        'WHERE u.uid = ANY(%s)', plan.uids.seen, EmailAddress.display,
        _("the UID %(key)d is already the UID of the account '%(owner)s'"))


def _refuse_existing_keys(cur, sql, seen, show, message):
    """Refuse (73) the first of the document's *seen* keys (key → where
    it stands) that *sql* finds in use, naming its owner."""
    cur.execute(sql, (list(seen),))
    taken = dict(cur.fetchall())
    for key, where in seen.items():
        if key in taken:
            raise InvalidImport(where, message % {
                'key': key, 'owner': show(taken[key])})


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

class _Ids:
    """Ids of the shared rows (transport, quota, services, mail location),
    looked up or created once per distinct value."""

    def __init__(self, cur):
        self._cur = cur
        self._cache = {}

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def transport(self, transport):
        from vmm.models import shared
        if transport is None:
            return None
        return self._get(('t', str(transport)),
                         lambda: shared.transport_id(self._cur, transport))

    def quota(self, quota):
        from vmm.models import shared
        if quota is None:
            return None
        return self._get(('q', quota.bytes, quota.messages),
                         lambda: shared.quota_id(self._cur, quota))

    def services(self, services):
        from vmm.models import shared
        if services is None:
            return None
        return self._get(('s',) + services.as_tuple(),
                         lambda: shared.services_id(self._cur, services))

    def mailbox(self, fmt, directory):
        from vmm.models import shared
        return self._get(('m', fmt, directory), lambda: shared.
                         maillocation_id(self._cur, fmt, directory))


def _lock_names(cur):
    """Keep concurrent commands from creating names, GIDs and UIDs while
    the import checks and writes them (Postfix and Dovecot still read)."""
    cur.execute('LOCK TABLE domain_data, domain_name, relay_domain, users '
                'IN SHARE ROW EXCLUSIVE MODE')


def _advance_sequence(cur, sequence, table, column):
    """After rows with given ids: the sequence continues above them
    (called last, as setval is not undone by a rollback)."""
    cur.execute('SELECT setval(%%s, m) FROM (SELECT max(%s) AS m FROM %s) '
                'x, %s s WHERE m >= s.last_value + CASE WHEN s.is_called '
                'THEN 1 ELSE 0 END' % (column, table, sequence), (sequence,))


def _import_json(handler, document, dry_run):
    from psycopg2.extras import execute_values
    from vmm.models import loops
    plan = check_document(handler, document)
    cur = handler.cur
    _lock_names(cur)
    _check_against_database(cur, plan)
    ids = _Ids(cur)
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for domain in plan.domains:
        gid = domain.gid
        cur.execute(
            'INSERT INTO domain_data (gid, qid, ssid, tid, domaindir, note, '
            'max_accounts, max_aliases, max_alias_domains) '
            'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)',
            (gid, ids.quota(domain.quota), ids.services(domain.services),
             ids.transport(domain.transport), domain.directory,
             domain.note) + domain.limits)
        execute_values(cur, 'INSERT INTO domain_name (domainname, gid, '
                       'is_primary) VALUES %s',
                       [(domain.name, gid, True)] +
                       [(name, gid, False) for name in domain.alias_names])
        execute_values(cur, 'INSERT INTO users (local_part, passwd, name, '
                       'uid, gid, mid, qid, ssid, tid, note) VALUES %s',
                       ((a.localpart, a.password, a.name, a.uid, gid,
                         ids.mailbox(*a.mailbox), ids.quota(a.quota),
                         ids.services(a.services), ids.transport(a.transport),
                         a.note) for a in domain.accounts), page_size=1000)
        execute_values(cur, 'INSERT INTO alias (gid, address, destination) '
                       'VALUES %s', ((gid, localpart, destination)
                                     for localpart, destinations in
                                     domain.aliases
                                     for destination in destinations),
                       page_size=1000)
        execute_values(cur, 'INSERT INTO catchall (gid, destination) '
                       'VALUES %s', [(gid, d) for d in domain.catchall])
        execute_values(cur, 'INSERT INTO relocated (gid, address, '
                       'destination) VALUES %s',
                       [(gid, localpart, destination)
                        for localpart, destination in domain.relocated],
                       page_size=1000)
        counts['domains'] += 1
        counts['alias_domains'] += len(domain.alias_names)
        counts['accounts'] += len(domain.accounts)
        counts['aliases'] += len(domain.aliases)
        counts['catchall'] += len(domain.catchall)
        counts['relocated'] += len(domain.relocated)
        handler.log(_('domain %(domain)s imported (accounts: '
                      '%(accounts)d, aliases: %(aliases)d, relocated users: '
                      '%(relocated)d, alias domains: %(alias_domains)d)')
                    % {'domain': domain.name,
                       'accounts': len(domain.accounts),
                       'aliases': len(domain.aliases),
                       'relocated': len(domain.relocated),
                       'alias_domains': len(domain.alias_names)},
                    domain.name, *domain.alias_names)
    for relay in plan.relays:
        cur.execute('INSERT INTO relay_domain (domainname, tid, note) '
                    'VALUES (%s, %s, %s)',
                    (relay.name, ids.transport(relay.transport), relay.note))
        execute_values(cur, 'INSERT INTO relay_recipient (domainname, '
                       'local_part) VALUES %s',
                       [(relay.name, r) for r in relay.recipients])
        counts['relay_domains'] += 1
        handler.log(_('relay domain %s imported') % relay.name, relay.name)
    for domain in plan.domains:
        if domain.aliases or domain.catchall or domain.alias_names:
            with _at(domain.where):
                handler.check_alias_loops(_loop_starts(
                    cur, loops.starts_for_domain(cur, domain.gid)))
    if not dry_run:
        _advance_sequence(cur, 'domain_gid', 'domain_data', 'gid')
        _advance_sequence(cur, 'users_uid', 'users', 'uid')
        _stage_directories(handler, plan)
    return counts


_FINAL_ALIASES_SQL = """
    SELECT s.address FROM unnest(%s::text[]) s(address)
     WHERE EXISTS (SELECT 1 FROM alias a JOIN domain_name n ON n.gid = a.gid
                    WHERE n.domainname = split_part(s.address, '@', 2)
                      AND a.address = split_part(s.address, '@', 1))
       AND NOT EXISTS (
           SELECT 1 FROM alias a JOIN domain_name n ON n.gid = a.gid
            WHERE n.domainname = split_part(s.address, '@', 2)
              AND a.address = split_part(s.address, '@', 1)
              AND (strpos(a.destination, '%%') > 0 OR EXISTS (
                   SELECT 1 FROM domain_name d,
                          split_part(a.destination, '@', 1) AS l(part)
                    WHERE d.domainname = split_part(a.destination, '@', 2)
                      AND (EXISTS (SELECT 1 FROM alias b
                                    WHERE b.gid = d.gid
                                      AND b.address = l.part)
                           OR EXISTS (SELECT 1 FROM catchall c
                                       WHERE c.gid = d.gid)
                              AND NOT EXISTS (
                                  SELECT 1 FROM users u
                                   WHERE u.gid = d.gid
                                     AND u.local_part = l.part)
                              AND NOT EXISTS (
                                  SELECT 1 FROM relocated r
                                   WHERE r.gid = d.gid
                                     AND r.address = l.part)))))
"""


def _loop_starts(cur, starts):
    """*starts* without the aliases whose every destination is final (no
    placeholder, and not an alias nor caught by a catch-all here): mail
    cannot loop through them, and whatever leads to them is a start of its
    own.  Spares two lookups per alias of a large import."""
    cur.execute(_FINAL_ALIASES_SQL, (list(starts),))
    final = {row[0] for row in cur.fetchall()}
    return [start for start in starts if start not in final]


def _stage_directories(handler, plan):
    """Prepare what is missing of the domain directories and homes, as
    domainadd and useradd do (in place once the import has committed);
    what exists is left alone, so that a mail tree copied along keeps
    working.  An existing home without its mailbox gets one after the
    commit, as far as that works."""
    cfg = handler.config
    missing = []
    for domain in plan.domains:
        with _located(domain.where):
            if not os.path.lexists(domain.directory):
                handler.staging.build_domain(domain.directory, domain.gid,
                                             cfg['domain.directory_mode'])
        for account in domain.accounts:
            home = '%s/%d' % (domain.directory, account.uid)
            fmt, root = account.mailbox
            address = '%s@%s' % (account.localpart, domain.name)
            with _located(account.where):
                if not os.path.lexists(home):
                    handler.stage_home(home, account.uid, domain.gid, fmt,
                                       root, address)
                elif not os.path.lexists(os.path.join(home, root)):
                    missing.append((home, account.uid, domain.gid, fmt, root,
                                    address))
    if missing:
        handler.after_commit(lambda: _make_mailboxes(handler, missing))


def _make_mailboxes(handler, missing):
    from vmm import mailbox
    cfg = handler.config
    problems = []
    for home, uid, gid, fmt, root, address in missing:
        try:
            mailbox.create_mailbox(
                home, uid, gid, cfg['account.directory_mode'], fmt, root,
                cfg['mailbox.folders'], cfg['mailbox.subscribe'], address,
                doveadm=cfg['bin.doveadm'])
        except (VMMError, OSError) as err:
            problems.append(str(err))
    for problem in problems[:_WARNINGS_SHOWN]:
        handler.warnings.append(_('Imported, but: %s') % problem)
    if len(problems) > _WARNINGS_SHOWN:
        more = len(problems) - _WARNINGS_SHOWN
        handler.warnings.append(ngettext('… and %d more directory problem',
                                         '… and %d more directory problems',
                                         more) % more)


# ---------------------------------------------------------------------------
# CSV of accounts
# ---------------------------------------------------------------------------

_SCHEME_PREFIX = re.compile(r'\{[^{}\s]+\}')
CSV_HEADER = ('address', 'password', 'name')


def _import_csv(handler, text, dry_run):
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
    for line, header in records:
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
        with _located(_('line %d') % line):
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
        from vmm.models.values import (MAX_NAME_LENGTH, EmailAddress,
                                       check_text)
        where = self._field(line, 'address')
        with _at(where):
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
        with _at(self._field(line, 'password')):
            if not password:
                raise VMMError(_('An empty password is not allowed'))
            if _SCHEME_PREFIX.match(password):
                password_hash = pw.check_hash(password)
            else:
                password_hash = self.handler.hash_password(password, address)
        with _at(self._field(line, 'name')):
            name = check_text(name.strip() or None, _('name'),
                              max_length=MAX_NAME_LENGTH)
        return line, address, domain, password_hash, name


# ---------------------------------------------------------------------------
# The audit log
# ---------------------------------------------------------------------------

def parse_since(text):
    """An ISO date (midnight, local time) or date and time (local time
    unless it names its offset), as an aware datetime; ValueError else."""
    import datetime
    text = text.strip()
    if re.fullmatch(r'[0-9]{4}-[0-9]{2}-[0-9]{2}', text):
        moment = datetime.datetime.combine(
            datetime.date.fromisoformat(text), datetime.time())
    else:
        moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment


_OBJECT_MATCH = """
    EXISTS (SELECT 1 FROM unnest(objects) AS o(v) WHERE
            CASE WHEN strpos(o.v, '@') > 0
                 THEN split_part(o.v, '@', 2) LIKE ANY(%(d)s)
                      AND split_part(o.v, '@', 1) LIKE %(l)s
                 ELSE %(domains_too)s AND o.v LIKE ANY(%(d)s) END)"""


def log_records(handler, since=None, pattern=None):
    """(time, OS user, sudo user, command, changes, objects) of the audit
    records, oldest first, streamed.

    *pattern* (SPEC §2) is matched against each record's objects: the
    domain part of addresses and domain names; a local part only against
    addresses (a local part of just ``%`` lets domain names match too)."""
    from vmm.models.listing import parse_pattern
    conditions, params = [], {}
    if since is not None:
        conditions.append('logged_at >= %(since)s')
        params['since'] = since
    if pattern is not None:
        local, domains = parse_pattern(pattern)
        conditions.append(_OBJECT_MATCH)
        params.update(d=domains, l=local or '%',
                      domains_too=local is None or not local.strip('%'))
    sql = ('SELECT logged_at, os_user, sudo_user, command, changes, objects '
           'FROM vmm_log')
    if conditions:
        sql += ' WHERE ' + ' AND '.join(conditions)
    return _stream(handler.conn, 'vmm_log_records', sql + ' ORDER BY '
                   'logged_at, id', params)
