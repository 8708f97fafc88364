"""The export: one JSON document of everything vmm keeps for the chosen
domains, streamed from one read-only snapshot (memory does not grow with
the number of accounts)."""

import contextlib
import os
import sys

from vmm import errors
from vmm.database import stream
from vmm.errors import VMMError
from vmm.exchange import (
    COUNT_KEYS,
    FORMAT,
    VERSION,
    dump,
)
from vmm.i18n import _

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


class _Rows:
    """Rows ordered like the domains, taken domain by domain."""

    def __init__(self, rows):
        self._rows = iter(rows)
        self._next = next(self._rows, None)

    def of(self, gid):
        while self._next is not None and self._next[0] == gid:
            row, self._next = self._next, next(self._rows, None)
            yield row


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
        write((',\n' if count else '\n') + indent + '  ' + dump(item))
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


def export(handler, write, names=None, progress=None):
    """Write the document through *write(text)*; return the counts.

    *names*: the primary and relay domains to export (None: all);
    *progress(iterable, total, label)* passes the accounts through, and
    may show how far the export is."""
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
          % (dump(FORMAT), VERSION))
    accounts = stream(conn, 'vmm_export_accounts', _ACCOUNTS_SQL, params)
    if progress is not None:
        accounts = progress(accounts, None, _('export'))
    accounts = _Rows(accounts)
    aliases = _Rows(stream(conn, 'vmm_export_aliases', _ALIASES_SQL,
                            params))
    relocated = _Rows(stream(conn, 'vmm_export_relocated', _RELOCATED_SQL,
                              params))
    for row in stream(conn, 'vmm_export_domains', _DOMAINS_SQL, params):
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
            write('      %s: %s,\n' % (dump(key), dump(value)))
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
        for r in stream(conn, 'vmm_export_relays', _RELAYS_SQL,
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
