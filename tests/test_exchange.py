"""export and import (vmm(1)): the JSON document, round trips that keep
every lookup answer, CSV files of accounts, all-or-nothing failures."""

import copy
import itertools
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from cli_helpers import assert_ok as ok
from conftest import TEMPLATE_DB, Database, Runner, write_config

BIN = os.path.dirname(sys.executable)
_databases = itertools.count()


def one_line_error(result, code):
    assert result.code == code, result
    assert 'Traceback' not in result.err, result
    assert result.err.startswith('Error: '), result
    assert result.err.count('\n') == 1, result
    return result.err


@pytest.fixture
def second(pg, tmp_path, mail_base):
    """An empty second database with the schema, and a vmm for it using
    the same misc.base_directory (a mail tree copied along)."""
    name = 'vmm_second_%d_%d' % (os.getpid(), next(_databases))
    pg.execute('CREATE DATABASE %s TEMPLATE %s' % (name, TEMPLATE_DB))
    config = write_config(tmp_path / 'second.cfg', pg, name, mail_base)
    yield Runner(config), Database(pg, name)
    pg.execute('DROP DATABASE %s WITH (FORCE)' % name)


# Everything vmm keeps: IDN, alias domains, overrides, placeholders,
# catch-all, relocated, relay domains with recipients, limits, notes.
EVERY_FEATURE = [
    ['da', 'example.org', '-n', 'Main domain\nsecond line, ünïcode'],
    ['da', 'bücher.example', '-t', 'smtp:[mx.example.com]:25'],
    ['da', 'other.test'],
    ['dq', 'bücher.example', '1G', '-m', '1000'],
    ['ds', 'other.test', '-d', 'imap', 'pop3'],
    ['ada', 'example.net', 'example.org'],
    ['ada', 'ölig.example', 'example.org'],
    ['ada', 'other.example', 'other.test'],
    ['ua', 'jane@example.org', '-p', 'secret1', '-n', "Jane's note"],
    ['un', 'jane@example.org', '-n', 'Jane Doe'],
    ['ua', 'joe@example.org', '-p', 'secret2'],
    ['uq', 'joe@example.org', '2G', '-m', '500'],
    ['us', 'joe@example.org', '-d', 'pop3'],
    ['ut', 'joe@example.org', 'smtp:[relay.example.com]'],
    ['ua', 'anna@bücher.example', '-p', 'secret3'],
    ['up', 'anna@bücher.example', '--hash', '{PLAIN}plain-anna'],
    ['ua', 'bob@other.test', '-p', 'secret4'],
    ['aa', 'team@example.org', 'jane@example.org', 'joe@example.org'],
    ['aa', 'fwd@example.org', '%n@elsewhere.example'],
    ['aa', 'eq@other.test', '%=@gateway.example'],
    ['aa', 'info@bücher.example', 'anna@bücher.example', 'Jane@Example.org'],
    ['caa', 'bücher.example', 'postmaster@example.org'],
    ['caa', 'other.test', '%n@example.org'],
    ['ra', 'john@example.org', 'john@elsewhere.example'],
    ['ra', 'old@bücher.example', 'new@example.org'],
    ['rla', 'backup.example', '--recipient', 'a@backup.example',
     'b@backup.example'],
    ['rla', 'any.example', '-t', 'relay:[gw.example]'],
    ['dl', 'example.org', '--accounts', '10', '--aliases', '8',
     '--alias-domains', '3'],
]

LOCALS = ['jane', 'joe', 'anna', 'bob', 'team', 'fwd', 'eq', 'info', 'john',
          'old', 'nobody', 'postmaster', 'a', 'b']
DOMAINS = ['example.org', 'example.net', 'xn--lig-rna.example',
           'xn--bcher-kva.example', 'other.test', 'other.example',
           'backup.example', 'any.example', 'unknown.example']
FUNCTIONS = ['postfix_virtual_alias_map', 'postfix_virtual_mailbox_map',
             'postfix_virtual_uid_map', 'postfix_transport_map',
             'postfix_relocated_map', 'postfix_smtpd_sender_login_map',
             'postfix_relay_recipient_map', 'dovecotpassword', 'dovecotuser',
             'dovecotquotauser']


def lookups(db, locals_=LOCALS, domains=DOMAINS):
    """Every lookup function's answer for every probe, in one query each."""
    pairs = [(l, d) for l in locals_ for d in domains]
    values = ', '.join(['(%s::varchar, %s::varchar)'] * len(pairs))
    flat = [x for pair in pairs for x in pair]
    answers = {}
    for function in FUNCTIONS:
        rows = db.query('SELECT v.l, v.d, f.* FROM (VALUES %s) v(l, d), '
                        'LATERAL %s(v.l, v.d) f' % (values, function), flat)
        answers[function] = sorted(map(str, rows))
    answers['relay_domain'] = sorted(map(str, db.query(
        'SELECT d, f.* FROM unnest(%s::varchar[]) d, '
        'LATERAL postfix_relay_domain_map(d) f', (domains,))))
    answers['gid'] = sorted(db.query('SELECT * FROM postfix_gid'))
    return answers


def build_every_feature(vmm, db):
    for argv in EVERY_FEATURE:
        ok(vmm(*argv))
    db.query("UPDATE relay_domain SET note = 'backup MX\tof a partner' "
             "WHERE domainname = 'backup.example'")
    mid = db.scalar("INSERT INTO maillocation (fid, directory) VALUES "
                    "(1, 'Mail') RETURNING mid")
    db.query("UPDATE users SET mid = %s WHERE local_part = 'bob'", (mid,))


def export(vmm, path):
    ok(vmm('ex', '-o', path))
    with open(path, encoding='ascii') as handle:
        return handle.read()


def tree(base):
    found = {}
    for root, dirs, files in os.walk(base):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            found[os.path.relpath(path, base)] = (
                stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                st.st_uid, st.st_gid)
    return found


def test_round_trip_keeps_everything(vmm, db, second, tmp_path, mail_base):
    build_every_feature(vmm, db)
    first = export(vmm, tmp_path / 'one.json')
    assert stat.S_IMODE(os.stat(tmp_path / 'one.json').st_mode) == 0o600
    before = lookups(db)
    assert before['dovecotuser'] and before['postfix_virtual_alias_map']
    original_tree = tree(mail_base)

    # Copy the mail tree along except one domain and one account's home:
    # import creates what is missing and leaves the rest alone.
    document = json.loads(first)
    by_name = {d['name']: d for d in document['domains']}
    shutil.rmtree(by_name['other.test']['directory'])
    jane_home = os.path.join(by_name['example.org']['directory'], '%d' % [
        a for a in by_name['example.org']['accounts']
        if a['local_part'] == 'jane'][0]['uid'])
    shutil.rmtree(jane_home)
    joe = [a for a in by_name['example.org']['accounts']
           if a['local_part'] == 'joe'][0]
    marker = os.path.join(by_name['example.org']['directory'],
                          str(joe['uid']), 'Maildir', 'cur', 'mail:2,S')
    with open(marker, 'w') as handle:
        handle.write('kept')
    os.chmod(marker, 0o644)

    run, db2 = second
    result = ok(run('im', tmp_path / 'one.json'))
    assert 'Imported 3 domains, 3 alias domains, 4 accounts' in result.out
    assert export(run, tmp_path / 'two.json') == first
    assert lookups(db2) == before
    # What was removed is back, as useradd/domainadd make it (bob's mail
    # location is now Mail, no longer Maildir); the rest is untouched.
    other = by_name['other.test']
    bob = os.path.relpath(os.path.join(other['directory'], str(
        other['accounts'][0]['uid'])), mail_base)
    expected = {path.replace(bob + '/Maildir', bob + '/Mail'): value
                for path, value in original_tree.items()}
    expected[os.path.relpath(marker, mail_base)] = (
        stat.S_IFREG, 0o644, 0, 0)
    assert tree(mail_base) == expected
    with open(marker) as handle:
        assert handle.read() == 'kept'
    # The sequences continue above the imported GIDs and UIDs.
    ok(run('da', 'new.example'))
    ok(run('ua', 'x@new.example', '-p', 'pw'))
    assert db2.scalar("SELECT gid FROM domain_name WHERE domainname = "
                      "'new.example'") > max(d['gid'] for d in
                                             document['domains'])
    assert db2.scalar("SELECT uid FROM users WHERE local_part = 'x'") > max(
        a['uid'] for d in document['domains'] for a in d['accounts'])


def test_document_format(vmm, db, tmp_path):
    build_every_feature(vmm, db)
    document = json.loads(export(vmm, tmp_path / 'x.json'))
    assert document['format'] == 'vmm-export' and document['version'] == 1
    assert list(document) == ['format', 'version', 'domains',
                              'relay_domains']
    names = [d['name'] for d in document['domains']]
    assert names == ['example.org', 'other.test', 'xn--bcher-kva.example']
    org = document['domains'][0]
    assert list(org) == ['name', 'gid', 'directory', 'transport', 'quota',
                         'services', 'limits', 'note', 'alias_domains',
                         'catchall', 'accounts', 'aliases', 'relocated']
    assert org['alias_domains'] == ['example.net', 'xn--lig-rna.example']
    assert org['limits'] == {'accounts': 10, 'aliases': 8,
                             'alias_domains': 3}
    assert org['note'] == 'Main domain\nsecond line, ünïcode'
    jane, joe = org['accounts']
    assert (jane['name'], jane['note'], jane['transport'], jane['quota'],
            jane['services']) == ('Jane Doe', "Jane's note", None, None,
                                  None)
    assert jane['password'].startswith('{SHA512-CRYPT}$6$')
    assert joe['quota'] == {'bytes': 2 * 1024 ** 3, 'messages': 500}
    assert joe['services'] == {'smtp': True, 'pop3': False, 'imap': True,
                               'sieve': True}
    assert joe['transport'] == 'smtp:[relay.example.com]'
    assert joe['mailbox'] == {'format': 'maildir', 'directory': 'Maildir'}
    bucher = document['domains'][2]
    assert bucher['catchall'] == ['postmaster@example.org']
    assert bucher['aliases'] == [{'local_part': 'info', 'destinations': [
        'anna@xn--bcher-kva.example', 'jane@example.org']}]
    assert bucher['relocated'] == [{'local_part': 'old',
                                    'destination': 'new@example.org'}]
    assert bucher['quota'] == {'bytes': 1024 ** 3, 'messages': 1000}
    assert bucher['accounts'][0]['password'] == '{PLAIN}plain-anna'
    assert document['relay_domains'] == [
        {'name': 'any.example', 'transport': 'relay:[gw.example]',
         'note': None, 'recipients': []},
        {'name': 'backup.example', 'transport': 'smtp:',
         'note': 'backup MX\tof a partner', 'recipients': ['a', 'b']}]
    # Standard output gets the same document; export writes nothing.
    count = db.scalar('SELECT count(*) FROM vmm_log')
    assert ok(vmm('ex')).out == export(vmm, tmp_path / 'y.json')
    assert db.scalar('SELECT count(*) FROM vmm_log') == count


def test_round_trip_of_the_demo_data(vmm, db, second, tmp_path):
    import shlex

    from demo import LOOKUPS, SESSION
    for line in SESSION.strip().splitlines():
        argv = shlex.split(line)[1:]
        if argv[0] not in ('dbupgrade',) and not line.endswith('again'):
            ok(vmm(*argv))
    first = export(vmm, tmp_path / 'demo.json')
    run, db2 = second
    ok(run('im', tmp_path / 'demo.json'))
    assert export(run, tmp_path / 'again.json') == first
    for function, local, domain in LOOKUPS:
        assert db.lookup(function, local, domain) == \
            db2.lookup(function, local, domain)
    assert lookups(db) == lookups(db2)


def test_export_chosen_domains(vmm, db, tmp_path):
    build_every_feature(vmm, db)
    document = json.loads(ok(vmm('ex', '-d', 'bücher.example',
                                 'backup.example')).out)
    assert [d['name'] for d in document['domains']] == [
        'xn--bcher-kva.example']
    assert [r['name'] for r in document['relay_domains']] == [
        'backup.example']
    assert [a['local_part'] for a in document['domains'][0]['accounts']] \
        == ['anna']
    only_relay = json.loads(ok(vmm('ex', '-d', 'any.example')).out)
    assert only_relay['domains'] == [] and \
        len(only_relay['relay_domains']) == 1
    assert 'alias domain' in one_line_error(
        vmm('ex', '-d', 'example.net'), 57)
    one_line_error(vmm('ex', '-d', 'nowhere.example'), 57)
    one_line_error(vmm('ex', '-o', tmp_path / 'no' / 'such' / 'dir.json'),
                   67)
    assert os.listdir(tmp_path) == ['vmm.cfg']


def test_export_of_an_empty_database(vmm, second, tmp_path):
    document = json.loads(ok(vmm('ex')).out)
    assert document == {'format': 'vmm-export', 'version': 1,
                        'domains': [], 'relay_domains': []}
    run, _db2 = second
    path = tmp_path / 'empty.json'
    path.write_text(ok(vmm('ex')).out)
    assert 'Imported 0 domains' in ok(run('im', path)).out


@pytest.fixture
def exported(vmm, db, tmp_path):
    build_every_feature(vmm, db)
    return json.loads(export(vmm, tmp_path / 'full.json'))


def test_second_import_changes_nothing(exported, second, tmp_path,
                                       mail_base):
    run, db2 = second
    path = tmp_path / 'full.json'
    ok(run('im', path))
    before = db2.dump(), tree(mail_base)
    err = one_line_error(run('im', path), 73)
    assert "domains[0].name: The domain 'example.org' already exists" in err
    assert (db2.dump(), tree(mail_base)) == before
    assert db2.scalar('SELECT count(*) FROM vmm_log WHERE command LIKE '
                      "'%% im %%'") == 1


def test_dry_run_writes_nothing(exported, second, tmp_path, mail_base):
    run, db2 = second
    shutil.rmtree(exported['domains'][1]['directory'])
    before, files = db2.dump(), tree(mail_base)
    result = ok(run('im', '--dry-run', tmp_path / 'full.json'))
    assert 'nothing written' in result.out
    assert db2.dump() == before and tree(mail_base) == files
    assert db2.scalar('SELECT count(*) FROM vmm_log') == 0


def _bad(document, change):
    document = copy.deepcopy(document)
    change(document)
    return document


def _set(path, value):
    def change(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


BAD_DOCUMENTS = [
    (_set(['format'], 'something-else'), 'format: not a vmm export'),
    (_set(['version'], 2), 'version: unsupported version 2'),
    (_set(['version'], True), 'version: unsupported version true'),
    (_set(['domains', 0, 'gid'], KeyError),
     'domains[0].gid: this key is missing'),
    (_set(['domains', 1, 'acounts'], []), 'domains[1].acounts: unknown key'),
    (_set(['domains', 2, 'accounts', 0, 'uid'], '70000'),
     'domains[2].accounts[0].uid: expected a whole number'),
    (_set(['domains', 2, 'accounts', 0, 'uid'], 0),
     'domains[2].accounts[0].uid: expected a whole number'),
    (lambda d: d['domains'][2]['accounts'][0].update(
        uid=d['domains'][0]['accounts'][1]['uid']),
     'domains[2].accounts[0].uid: the UID'),
    (_set(['domains', 0, 'accounts', 1, 'password'], '{NOPE}abc'),
     'domains[0].accounts[1].password: Unknown password scheme'),
    (_set(['domains', 0, 'accounts', 1, 'password'], 'plain'),
     'domains[0].accounts[1].password:'),
    (_set(['domains', 0, 'accounts', 1, 'quota'], {'bytes': -1,
                                                   'messages': 0}),
     'domains[0].accounts[1].quota.bytes: expected a whole number'),
    (_set(['domains', 0, 'accounts', 1, 'services'], {'smtp': True}),
     'domains[0].accounts[1].services.pop3: this key is missing'),
    (_set(['domains', 0, 'accounts', 1, 'mailbox'],
          {'format': 'mbox', 'directory': 'x'}),
     'domains[0].accounts[1].mailbox.format: expected one of'),
    (_set(['domains', 0, 'accounts', 1, 'local_part'], 'team'),
     "domains[0].aliases[1].local_part: the address 'team@example.org' is "
     'also in domains[0].accounts[1].local_part'),
    (_set(['domains', 0, 'aliases', 0, 'destinations', 0], 'not an address'),
     'domains[0].aliases[0].destinations[0]: Invalid address'),
    (_set(['domains', 0, 'aliases', 0, 'destinations'], []),
     'domains[0].aliases[0].destinations: an alias needs at least one'),
    (_set(['domains', 0, 'relocated', 0, 'destination'], 'john@example.org'),
     'domains[0].relocated[0].destination: the new address is the '
     'relocated address itself'),
    (_set(['domains', 0, 'name'], 'bad..name'), 'domains[0].name: Invalid'),
    (_set(['domains', 1, 'alias_domains'], ['example.net']),
     "domains[1].alias_domains[0]: 'example.net' is also named in "
     'domains[0].alias_domains[0]'),
    (_set(['domains', 1, 'directory'], '/etc/mail'),
     'domains[1].directory: Refusing'),
    (_set(['domains', 1, 'directory'], 'relative/dir'),
     'domains[1].directory: expected an absolute'),
    (_set(['domains', 0, 'limits', 'accounts'], 1),
     'domains[0].accounts: 2 exceed the limit of 1 (limits.accounts)'),
    (_set(['domains', 0, 'note'], 'bad\x00note'), 'domains[0].note: Invalid'),
    (_set(['relay_domains', 1, 'recipients'], ['a', 'a']),
     "relay_domains[1].recipients[1]: 'a' is also in"),
    (_set(['relay_domains', 0, 'name'], 'other.test'),
     "relay_domains[0].name: 'other.test' is also named in domains[1].name"),
    (_set(['domains'], {}), 'domains: expected a JSON array'),
]


def test_bad_documents_import_nothing(exported, second, tmp_path):
    """Each bad value: exit 73 naming the record and field, with and
    without --dry-run, and the database unchanged (one data set for all
    cases: every failure leaves it as it was)."""
    run, db2 = second
    path = tmp_path / 'bad.json'
    before = db2.dump()
    for change, message in BAD_DOCUMENTS:
        path.write_text(json.dumps(_bad(exported, change)))
        assert message in one_line_error(run('im', path), 73), message
        assert message in one_line_error(run('im', '--dry-run', path), 73)
    assert db2.dump() == before


def test_conflicts_with_the_database(exported, second, tmp_path):
    run, db2 = second
    path = tmp_path / 'full.json'
    # Other GIDs and UIDs than the first database's (same mail tree).
    db2.query("SELECT setval('domain_gid', 80000), setval('users_uid', "
              "80000)")
    ok(run('da', 'elsewhere.test'))
    ok(run('ada', 'ölig.example', 'elsewhere.test'))
    before = db2.dump()
    err = one_line_error(run('im', path), 73)
    assert "domains[0].alias_domains[1]: The domain 'ölig.example' already " \
        'exists as an alias domain' in err
    assert db2.dump() == before
    ok(run('add', 'ölig.example'))
    gid = db2.scalar('SELECT gid FROM domain_data')
    document = copy.deepcopy(exported)
    for domain in document['domains']:
        domain['gid'] += 1000
    document['domains'][1]['gid'] = gid
    path.write_text(json.dumps(document))
    assert "domains[1].gid: the GID %d is already the GID of the domain " \
        "'elsewhere.test'" % gid in one_line_error(run('im', path), 73)
    ok(run('ua', 'x@elsewhere.test', '-p', 'x'))
    uid = db2.scalar('SELECT uid FROM users')
    document = copy.deepcopy(exported)
    for domain in document['domains']:
        for account in domain['accounts']:
            account['uid'] += 1000
    document['domains'][2]['accounts'][0]['uid'] = uid
    path.write_text(json.dumps(document))
    assert "domains[2].accounts[0].uid: the UID %d is already the UID of " \
        "the account 'x@elsewhere.test'" % uid in one_line_error(
            run('im', path), 73)
    assert db2.query('SELECT count(*) FROM users') == [(1,)]
    assert db2.scalar('SELECT count(*) FROM domain_data') == 1


def test_alias_loop_through_the_import_is_refused(vmm, db, tmp_path):
    ok(vmm('da', 'here.example'))
    ok(vmm('aa', 'back@here.example', 'loop@there.example'))
    document = {'format': 'vmm-export', 'version': 1, 'domains': [{
        'name': 'there.example', 'gid': 80000,
        'directory': str(tmp_path / 'unused'),
        'aliases': [{'local_part': 'loop',
                     'destinations': ['back@here.example']}]}]}
    path = tmp_path / 'loop.json'
    path.write_text(json.dumps(document))
    before = db.dump()
    err = one_line_error(vmm('im', path), 73)
    # The directory is outside misc.base_directory: refused first.
    assert 'domains[0].directory: Refusing' in err
    document['domains'][0]['directory'] = os.path.join(
        db.scalar('SELECT domaindir FROM domain_data'), '..', 'x')
    path.write_text(json.dumps(document))
    assert 'domains[0].directory: expected an absolute, normalised' in \
        one_line_error(vmm('im', path), 73)
    document['domains'][0]['directory'] = os.path.normpath(
        document['domains'][0]['directory'])
    path.write_text(json.dumps(document))
    err = one_line_error(vmm('im', path), 73)
    assert err.startswith('Error: domains[0]: This change would make mail '
                          'loop'), err
    assert db.dump() == before


def test_minimal_document_takes_the_defaults(vmm, db, tmp_path, mail_base):
    document = {'format': 'vmm-export', 'version': 1, 'domains': [{
        'name': 'Bücher.Example', 'gid': 90000,
        'directory': str(mail_base / 'x' / '90000'),
        'accounts': [{'local_part': 'Ann', 'uid': 95000,
                      'password': '{PLAIN}pw'}]}],
        'relay_domains': [{'name': 'relay.example'}]}
    path = tmp_path / 'min.json'
    path.write_text(json.dumps(document))
    ok(vmm('im', path))
    assert db.lookup('dovecotuser', 'ann', 'xn--bcher-kva.example') == [
        ('ann@xn--bcher-kva.example', 95000, 90000,
         str(mail_base / 'x' / '90000' / '95000'), 'maildir:~/Maildir')]
    assert db.lookup('postfix_transport_map', 'x', 'relay.example') == [
        ('x@relay.example', 'smtp:')]
    home = mail_base / 'x' / '90000' / '95000'
    st = os.stat(home)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (
        95000, 90000, 0o700)
    assert (home / 'Maildir' / 'cur').is_dir()
    st = os.stat(mail_base / 'x' / '90000')
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (
        0, 90000, 0o770)


@pytest.mark.parametrize('content,message', [
    (b'{"format": "vmm-export",\n "version": 1,,}',
     'line 2, column 15: invalid JSON'),
    (b'{"format": "vmm-export", "format": "x", "version": 1}',
     "the key 'format' appears twice"),
    (b'{"format": "vmm-export", "version": NaN}', 'NaN is not allowed'),
    (b'address,password,name\nj\xe9@example.org,pw,x\n',
     'line 2: not valid UTF-8'),
    (b'', 'The import file is empty'),
    (b'[1, 2]', 'expected a JSON object'),
    (b'{"bad": 1}', "format: not a vmm export (expected 'vmm-export')"),
    (b'{"version": 1, "domains": []}', 'format: not a vmm export'),
    (b'address;password;name\n', 'line 1: the first line must be the '
                                  'header'),
    (b'{"format": "vmm-export", "version": 1, "domains": [' + b'[' * 100000
     + b']' * 100000 + b']}', 'invalid JSON'),
])
def test_unreadable_files(vmm, db, tmp_path, content, message):
    path = tmp_path / 'in'
    path.write_bytes(content)
    err = one_line_error(vmm('im', path), 73)
    assert message in err, err


def test_missing_file(vmm, tmp_path):
    err = one_line_error(vmm('im', tmp_path / 'missing.json'), 73)
    assert 'Cannot read the import file' in err and 'No such file' in err
    one_line_error(vmm('im', tmp_path), 73)


# -- CSV -------------------------------------------------------------------

CSV = ('address,password,name\n'
       'jane@example.org,secret one,Jane Doe\n'
       'JOE@Example.org,{PLAIN}joes-password,\n'
       '"anna@bücher.example","pass,word","Anna, the ""first"""\n')


@pytest.fixture
def csv_domains(vmm):
    ok(vmm('da', 'example.org'))
    ok(vmm('da', 'bücher.example'))
    ok(vmm('ada', 'example.net', 'example.org'))


def test_csv_import_creates_accounts_like_useradd(vmm, db, csv_domains,
                                                  tmp_path, mail_base):
    path = tmp_path / 'accounts.csv'
    path.write_text(CSV, encoding='utf-8')
    result = ok(vmm('im', path))
    assert 'Imported 0 domains, 0 alias domains, 3 accounts' in result.out
    rows = db.query('SELECT local_part, name, passwd FROM users ORDER BY 1')
    assert [r[:2] for r in rows] == [('anna', 'Anna, the "first"'),
                                     ('jane', 'Jane Doe'), ('joe', None)]
    assert rows[1][2].startswith('{SHA512-CRYPT}$6$')
    assert rows[2][2] == '{PLAIN}joes-password'
    for local, domain in [('jane', 'example.org'), ('joe', 'example.net'),
                          ('anna', 'xn--bcher-kva.example')]:
        (_user, uid, gid, home, mail), = db.lookup('dovecotuser', local,
                                                   domain)
        assert os.path.isdir(os.path.join(home, 'Maildir', 'new'))
        assert os.stat(home).st_uid == uid
    log = db.query('SELECT command, changes FROM vmm_log '
                   "WHERE command LIKE '%% im %%'")
    assert len(log) == 1 and log[0][1].count('added') == 3
    assert 'secret' not in str(log) and 'joes-password' not in str(log)
    # The same file again: nothing changes, the first existing one named.
    before = db.dump(), tree(mail_base)
    err = one_line_error(vmm('im', path), 73)
    assert "line 2, field address: There is already an account with the " \
        "address 'jane@example.org'" in err
    assert (db.dump(), tree(mail_base)) == before


@pytest.mark.parametrize('third,message', [
    ('x@@example.org,pw,', 'line 3, field address: Invalid address'),
    ('x@nowhere.example,pw,', "line 3, field address: The domain "
                              "'nowhere.example' does not exist"),
    ('x@example.net,pw,', "line 3, field address: 'example.net' is an "
                          'alias domain'),
    ('jane@example.org,pw,', "line 3, field address: the address "
                             "'jane@example.org' is also on line 2"),
    ('team@example.org,pw,', "line 3, field address: There is already an "
                             "alias with the address 'team@example.org'"),
    ('x@example.org,,', 'line 3, field password: An empty password'),
    ('x@example.org,{SHA512-CRYPT}nonsense,', 'line 3, field password: '
                                              'Invalid SHA512-CRYPT'),
    ('x@example.org,pw,' + 'n' * 200, 'line 3, field name: The name is '
                                      'longer than 128'),
    ('x@example.org,pw', 'line 3: expected 3 fields, found 2'),
    ('x@example.org,pw,x,y', 'line 3: expected 3 fields, found 4'),
    ('"x@example.org,pw,x', 'line 3: invalid CSV'),
])
def test_csv_with_a_bad_third_line_imports_nothing(
        vmm, db, csv_domains, tmp_path, mail_base, third, message):
    ok(vmm('aa', 'team@example.org', 'jane@example.org'))
    path = tmp_path / 'accounts.csv'
    path.write_text('address,password,name\njane@example.org,pw,Jane\n'
                    + third + '\nlast@example.org,pw,Last\n')
    before = db.dump(), tree(mail_base)
    err = one_line_error(vmm('im', path), 73)
    assert message in err, err
    assert (db.dump(), tree(mail_base)) == before


def test_csv_header_and_limits(vmm, db, csv_domains, tmp_path):
    path = tmp_path / 'a.csv'
    path.write_text('mail,password,name\nx@example.org,pw,\n')
    assert "line 1: the first line must be the header" in one_line_error(
        vmm('im', path), 73)
    ok(vmm('ua', 'first@example.org', '-p', 'pw'))
    ok(vmm('dl', 'example.org', '--accounts', '2'))
    path.write_text('Address, Password\n\na@example.org,pw\n'
                    'b@example.org,pw\n')
    assert "line 4, field address: the domain 'example.org' may have at " \
        'most 2 accounts (2 in use)' in one_line_error(vmm('im', path), 73)
    assert db.scalar('SELECT count(*) FROM users') == 1


def test_csv_from_standard_input_and_dry_run(vmm, db, csv_domains,
                                             mail_base):
    before = db.dump(), tree(mail_base)
    result = ok(vmm('im', '-', '--dry-run', input=CSV))
    assert 'would import 0 domains, 0 alias domains, 3 accounts' in \
        result.out
    assert (db.dump(), tree(mail_base)) == before
    ok(vmm('im', '-', input=CSV))
    assert db.scalar('SELECT count(*) FROM users') == 3


def test_in_a_batch(vmm, db, csv_domains, tmp_path):
    """import --dry-run undoes only itself; export sees the batch's work
    so far."""
    path = tmp_path / 'a.csv'
    path.write_text(CSV)
    out = tmp_path / 'out.json'
    ok(vmm('batch', '-', input='da new.example\nim --dry-run %s\n'
           'ex -o %s\nua x@new.example -p pw\n' % (path, out)))
    document = json.loads(out.read_text())
    assert [d['name'] for d in document['domains']] == [
        'example.org', 'new.example', 'xn--bcher-kva.example']
    assert db.query('SELECT local_part FROM users') == [('x',)]
    ok(vmm('batch', '-', input='da two.example\nim %s\n' % path))
    assert db.scalar('SELECT count(*) FROM users') == 4


def test_import_needs_root_but_dry_run_does_not(vmm, db, csv_domains,
                                                tmp_path, monkeypatch):
    path = tmp_path / 'a.csv'
    path.write_text(CSV)
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    monkeypatch.setattr(os, 'getuid', lambda: 1000)
    one_line_error(vmm('im', path), 67)
    ok(vmm('im', '--dry-run', path))


# -- memory -----------------------------------------------------------------

def _fill(db, count, start):
    db.query("INSERT INTO users (local_part, passwd, uid, gid) "
             "SELECT 'user' || n, '{SHA512-CRYPT}$6$abcdefgh$' || "
             "repeat('x', 86), n, (SELECT gid FROM domain_data) "
             'FROM generate_series(%s, %s) n', (start, start + count - 1))


def _peak_export(config, path):
    proc = subprocess.Popen([os.path.join(BIN, 'vmm'), '-c', config, 'ex',
                             '-o', str(path)], stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss / 1024


def test_export_memory_stays_flat(vmm, db, config_file, tmp_path):
    ok(vmm('da', 'big.example'))
    _fill(db, 2000, 100000)
    small = _peak_export(config_file, tmp_path / 'small.json')
    _fill(db, 60000, 200000)
    large = _peak_export(config_file, tmp_path / 'large.json')
    document = json.loads((tmp_path / 'large.json').read_text())
    assert len(document['domains'][0]['accounts']) == 62000
    # 30 times the accounts (about 20 MB of JSON), a few MB more memory.
    assert large - small < 8, (small, large)
