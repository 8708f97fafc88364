"""The audit log (vmm(1)): one record per changing command, in its
transaction, no secrets, and ``vmm log`` with its filters."""

import json
import os

import psycopg2
import pytest

from cli_helpers import assert_ok as ok
from conftest import Runner, write_config


def records(db):
    return db.query('SELECT command, changes, objects FROM vmm_log '
                    'ORDER BY id')


def everything_logged(db):
    """All the log holds, as one text."""
    return '\n'.join(str(row) for row in db.query('SELECT * FROM vmm_log'))


CHANGING = [
    ['da', 'example.org', '-n', 'a note'],
    ['da', 'bücher.example'],
    ['ua', 'jane@example.org', '-p', 'pw-useradd'],
    ['ua', 'joe@example.org', '-p', 'pw-joe'],
    ['up', 'jane@example.org', '-p', 'pw-new'],
    ['up', 'joe@example.org', '--hash', '{PLAIN}pw-hash'],
    ['un', 'jane@example.org', '-n', 'Jane'],
    ['uo', 'jane@example.org', '-n', 'note'],
    ['uq', 'jane@example.org', '1G'],
    ['us', 'jane@example.org', '-d', 'pop3'],
    ['ut', 'jane@example.org', 'smtp:'],
    ['aa', 'team@example.org', 'jane@example.org', 'joe@example.org'],
    ['ad', 'team@example.org', 'joe@example.org'],
    ['ra', 'john@example.org', 'john@elsewhere.example'],
    ['rd', 'john@example.org'],
    ['caa', 'example.org', 'jane@example.org'],
    ['cad', 'example.org'],
    ['ada', 'example.net', 'example.org'],
    ['ads', 'example.net', 'bücher.example'],
    ['add', 'example.net'],
    ['dq', 'example.org', '2G'],
    ['ds', 'example.org', '-d', 'imap'],
    ['dt', 'example.org', 'smtp:'],
    ['do', 'example.org', '-d'],
    ['dl', 'example.org', '--accounts', '5'],
    ['rla', 'relay.example', '--recipient', 'a@relay.example'],
    ['rld', 'relay.example'],
    ['ud', 'joe@example.org'],
    ['dd', 'bücher.example'],
]
READ_ONLY = [
    ['di', 'example.org'], ['ui', 'jane@example.org'], ['ll'], ['ld'],
    ['ai', 'team@example.org'], ['ex'], ['lg'], ['lu'], ['gu', '70000'],
]


def test_each_changing_command_is_logged_once(vmm, db, tmp_path):
    for argv in CHANGING:
        ok(vmm(*argv))
        for read_only in READ_ONLY[:2]:
            vmm(*read_only)
    for argv in READ_ONLY:
        vmm(*argv)
    # An import is one command, one record.
    path = tmp_path / 'a.csv'
    path.write_text('address,password,name\nx@example.org,pw-csv,\n')
    ok(vmm('im', path))
    commands = [row[0] for row in records(db)]
    expected = []
    for argv in CHANGING + [['im', str(path)]]:
        shown = ' '.join(a if a not in ('pw-useradd', 'pw-joe', 'pw-new',
                                        '{PLAIN}pw-hash') else '***'
                         for a in argv)
        expected.append('vmm --config %s %s' % (vmm.config, shown))
    assert commands == expected
    changes = [row[1] for row in records(db)]
    assert changes[0] == 'domain example.org added'
    assert changes[2] == 'account jane@example.org added'
    assert changes[-1] == 'account x@example.org added'
    assert records(db)[1][2] == ['xn--bcher-kva.example']
    # `vmm log` shows them all, oldest first, newest last.
    out = ok(vmm('lg')).out
    positions = [out.index(command) for command in expected]
    assert positions == sorted(positions)
    assert '\taccount jane@example.org added\n' in out


def test_no_password_or_hash_is_ever_logged(pg, db, tmp_path, mail_base):
    config = write_config(tmp_path / 'vmm.cfg', pg, db.name, mail_base,
                          domain={'auto_postmaster': 'true'},
                          account={'random_password': 'true'})
    vmm = Runner(config)
    generated = ok(vmm('da', 'example.org')).out.split(': ')[-1].strip()
    assert len(generated) >= 8
    secrets = [generated, 'Secret-1', 'Secret-2', 'Secret-3', 'Secret-4',
               '{PLAIN}Secret-5', 'Secret-6', 'Secret-7']
    ok(vmm('ua', 'a@example.org', '-p', 'Secret-1'))
    ok(vmm('ua', 'b@example.org', '-pSecret-2'))
    ok(vmm('ua', 'c@example.org', '--password=Secret-3'))
    ok(vmm('up', 'a@example.org', '--password', 'Secret-4'))
    ok(vmm('up', 'b@example.org', '--hash', '{PLAIN}Secret-5'))
    ok(vmm('up', 'c@example.org', '-s', 'SHA256-CRYPT', '-p', 'Secret-6'))
    ok(vmm('ua', 'd@example.org', input='Secret-7\n'))
    ok(vmm('cs', 'database.pass', 'Secret-8'))
    ok(vmm('cs', 'database.pass', ''))
    csv = tmp_path / 'a.csv'
    csv.write_text('address,password,name\ne@example.org,Secret-9,\n'
                   'f@example.org,{PLAIN}Secret-10,\n')
    ok(vmm('im', csv))
    secrets += ['Secret-8', 'Secret-9', 'Secret-10']
    hashes = [row[0] for row in db.query('SELECT passwd FROM users')]
    assert len(hashes) == 7
    logged = everything_logged(db)
    shown = ok(vmm('lg')).out + ok(vmm('lg', '--json')).out
    assert 'database.pass' not in logged     # configset is not logged
    for secret in secrets + hashes:
        assert secret not in logged and secret not in shown, secret
    for text in hashes:
        # Not even the hash part without its scheme.
        assert text.split('}', 1)[1] not in logged
    assert len(records(db)) == 9


def test_abbreviated_password_options_are_refused(vmm, db):
    """argparse would take --pass for --password, past the log's filter."""
    ok(vmm('da', 'example.org'))
    assert vmm('ua', 'a@example.org', '--pass', 'Secret-A').code == 2
    ok(vmm('ua', 'a@example.org', '-p', 'x'))
    assert vmm('up', 'a@example.org', '--has', '{PLAIN}Secret-B').code == 2
    logged = everything_logged(db)
    assert 'Secret-A' not in logged and 'Secret-B' not in logged


def test_a_failed_command_leaves_no_record(vmm, db, tmp_path):
    ok(vmm('da', 'example.org'))
    ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    ok(vmm('aa', 'a@example.org', 'b@example.org'))
    before = records(db)
    failing = [
        (['da', 'example.org'], 38),
        (['ua', 'jane@example.org', '-p', 'pw'], 21),
        (['ua', 'x@nowhere.example', '-p', 'pw'], 57),
        (['aa', 'b@example.org', 'a@example.org'], 72),
        (['ud', 'nobody@example.org'], 52),
        (['dl', 'example.org', '--accounts', 'x'], 2),
    ]
    for argv, code in failing:
        assert vmm(*argv).code == code, argv
    path = tmp_path / 'a.csv'
    path.write_text('address,password,name\nok@example.org,pw,\n'
                    'jane@example.org,pw,\n')
    assert vmm('im', path).code == 73
    # A dry run changes nothing either.
    path.write_text('address,password,name\nnew@example.org,pw,\n')
    ok(vmm('im', '--dry-run', path))
    assert records(db) == before


@pytest.mark.parametrize('role', ['postfix', 'dovecot'])
def test_postfix_and_dovecot_cannot_read_the_log(vmm, db, role):
    ok(vmm('da', 'example.org'))
    for sql in ('SELECT * FROM vmm_log', 'SELECT command FROM vmm_log',
                'SELECT count(*) FROM vmm_log'):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            db.query(sql, user=role)


@pytest.fixture
def history(vmm, db):
    """Records on three days (their times moved into the past)."""
    ok(vmm('da', 'example.org'))
    ok(vmm('da', 'bücher.example'))
    ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    ok(vmm('ua', 'jane@bücher.example', '-p', 'pw'))
    ok(vmm('aa', 'team@example.org', 'jane@example.org'))
    ok(vmm('rla', 'relay.example'))
    db.query("UPDATE vmm_log SET logged_at = CASE id "
             "WHEN 1 THEN '2024-01-01 10:00+00' "
             "WHEN 2 THEN '2024-01-02 12:00+00' "
             "WHEN 3 THEN '2024-01-02 18:30+00' "
             "ELSE logged_at END")
    return vmm


def _commands(result):
    ok(result)
    return [line.split('  ', 2)[2].split(' ', 3)[3]
            for line in result.out.splitlines() if not line.startswith('\t')]


def test_since(history):
    vmm = history
    assert len(_commands(vmm('lg'))) == 6
    assert _commands(vmm('lg', '--since', '2024-01-02T15:00+00:00')) == [
        'ua jane@example.org -p ***', 'ua jane@bücher.example -p ***',
        'aa team@example.org jane@example.org', 'rla relay.example']
    assert len(_commands(vmm('lg', '--since', '2024-01-02 12:00:00Z'))) == 5
    assert len(_commands(vmm('lg', '--since', '2023-12-31'))) == 6
    assert len(_commands(vmm('lg', '--since', '2100-01-01'))) == 0
    for bad in ('yesterday', '2024-13-01', '2024-01-02T25:00'):
        result = vmm('lg', '--since', bad)
        assert result.code == 2 and 'invalid date' in result.err, result


def test_export_and_import_with_json_output(vmm, db, tmp_path):
    ok(vmm('da', 'example.org'))
    path = tmp_path / 'x.json'
    result = json.loads(ok(vmm('--json', 'ex', '-o', path)).out)
    assert result['exported']['domains'] == 1 and result['file'] == str(path)
    assert json.loads(ok(vmm('ex', '--json')).out)['format'] == 'vmm-export'
    result = vmm('--json', 'im', '--dry-run', path)
    assert result.code == 73 and json.loads(result.err)['code'] == 73
    csv = tmp_path / 'a.csv'
    csv.write_text('address,password\njane@example.org,pw\n')
    result = json.loads(ok(vmm('--json', 'im', '--dry-run', csv)).out)
    assert result == {'imported': dict(result['imported'], accounts=1),
                      'dry_run': True}


def test_since_date_is_local_midnight(history, db):
    import time
    vmm = history
    saved = os.environ.get('TZ')
    try:
        os.environ['TZ'] = 'Asia/Tokyo'   # 2024-01-02 18:30Z is the 3rd
        time.tzset()
        out = ok(vmm('lg', '--since', '2024-01-03')).out
        assert 'ua jane@example.org' in out
        assert 'da bücher.example' not in out
        assert '2024-01-03 03:30:00 +0900' in out
    finally:
        if saved is None:
            os.environ.pop('TZ', None)
        else:
            os.environ['TZ'] = saved
        time.tzset()


def test_pattern(history):
    vmm = history
    assert _commands(vmm('lg', '-p', 'bücher.example')) == [
        'da bücher.example', 'ua jane@bücher.example -p ***']
    assert _commands(vmm('lg', '-p', 'xn--bcher-kva.example')) == [
        'da bücher.example', 'ua jane@bücher.example -p ***']
    assert _commands(vmm('lg', '-p', 'example.org')) == [
        'da example.org', 'ua jane@example.org -p ***',
        'aa team@example.org jane@example.org']
    assert _commands(vmm('lg', '-p', 'jane@%')) == [
        'ua jane@example.org -p ***', 'ua jane@bücher.example -p ***']
    assert _commands(vmm('lg', '-p', 'te%@example.org')) == [
        'aa team@example.org jane@example.org']
    assert _commands(vmm('lg', '-p', '%@example.org')) == [
        'da example.org', 'ua jane@example.org -p ***',
        'aa team@example.org jane@example.org']
    assert len(_commands(vmm('lg', '-p', '%example'))) == 3
    assert _commands(vmm('lg', '-p', 'relay%')) == ['rla relay.example']
    assert _commands(vmm('lg', '-p', 'nothing.example')) == []
    assert _commands(vmm('lg', '-p', '%.org', '--since', '2024-01-02')) == [
        'ua jane@example.org -p ***', 'aa team@example.org jane@example.org']
    result = vmm('lg', '-p', 'ex%ample')
    assert result.code == 44 and result.err.startswith('Error: Invalid '
                                                       'pattern')


def test_json_and_sudo_user(vmm, db):
    ok(vmm('da', 'example.org', env={'SUDO_USER': 'alice'}))
    out = ok(vmm('lg')).out
    assert '  root (sudo: alice)  vmm ' in out
    document = json.loads(ok(vmm('lg', '--json')).out)
    assert list(document) == ['records'] and len(document['records']) == 1
    record = document['records'][0]
    assert record['user'] == 'root' and record['sudo_user'] == 'alice'
    assert record['changes'] == ['domain example.org added']
    assert record['objects'] == ['example.org']
    assert record['command'].endswith(' da example.org')
    assert json.loads(ok(vmm('--json', 'lg', '-p', 'x.example')).out) == {
        'records': []}
