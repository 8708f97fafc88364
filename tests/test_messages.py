"""The wording of messages that said something wrong or unclear, in
English and in German: each expected text is written out here, not read
from the catalog under test."""

import os

import pytest

from cli_helpers import assert_ok

DE = {'LANGUAGE': 'de', 'LC_ALL': 'C', 'LANG': 'C'}


def _err(result, code):
    """The one error line of a clean failure (in any language)."""
    assert result.code == code, result
    assert 'Traceback' not in result.err, result
    assert result.err.count('\n') == 1 and result.err.endswith('\n'), result
    assert result.err.startswith(('Error: ', 'Fehler: ')), result
    return result.err


@pytest.mark.parametrize('env,expected', [
    (None, "Error: unknown subcommand 'userinf'; did you mean userinfo? "
           "(see `vmm help`)\n"),
    (DE, "Fehler: unbekannter Unterbefehl 'userinf'; meinten Sie userinfo? "
         "(siehe `vmm help`)\n"),
])
def test_mistyped_subcommand(vmm, env, expected):
    assert _err(vmm('userinf', 'x@example.org', env=env), 2) == expected


@pytest.mark.parametrize('env,missing,extra', [
    (None, 'the following arguments are required: ADDRESS (see `vmm help '
           'useradd`)', 'unrecognized arguments: extra (see `vmm help '
                        'useradd`)'),
    (DE, '(siehe `vmm help useradd`)', '(siehe `vmm help useradd`)'),
])
def test_missing_and_extra_arguments_point_to_the_same_help(vmm, env,
                                                            missing, extra):
    assert missing in _err(vmm('useradd', env=env), 2)
    assert extra in _err(vmm('useradd', 'a@example.org', 'extra', env=env),
                         2)


@pytest.mark.parametrize('env,expected', [
    (None, "Invalid transport 'smtp:[127.0.0.1]:99999': port 99999 is out "
           "of range (1-65535) (transport: or transport:nexthop, see "
           "transport(5))"),
    (DE, "Ungültiger Transport 'smtp:[127.0.0.1]:99999': Port 99999 liegt "
         "außerhalb des Bereichs (1-65535) (transport: oder "
         "transport:nexthop, siehe transport(5))"),
])
def test_transport_message(vmm, env, expected):
    assert_ok(vmm('da', 'example.org'))
    assert expected in _err(vmm('dt', 'example.org',
                                'smtp:[127.0.0.1]:99999', env=env), 44)
    no_colon = _err(vmm('da', 'new.example', '-t', 'nocolon', env=env), 44)
    assert "'nocolon:'" in no_colon


@pytest.mark.parametrize('env,space,star', [
    (None, "Invalid pattern 'bad domain': a space cannot appear in a "
           "domain name", "Invalid pattern 'exa*mple.org': % and * are "
                          "wildcards only at the start or end of the domain "
                          "part"),
    (DE, "Ungültiges Muster 'bad domain': ein Leerzeichen darf in keinem "
         "Domainnamen vorkommen", "Ungültiges Muster 'exa*mple.org': % und * "
                                  "sind nur am Anfang oder Ende des "
                                  "Domainteils Platzhalter"),
])
def test_pattern_messages(vmm, env, space, star):
    assert space in _err(vmm('lu', '-p', 'bad domain', env=env), 44)
    assert star in _err(vmm('ld', '-p', 'exa*mple.org', env=env), 44)
    assert "';'" in _err(vmm('lu', '-p', ';--', env=env), 44)


def test_patterns_do_what_a_postmaster_expects(vmm):
    assert_ok(vmm('da', 'example.org'))
    for address in ('a%b@example.org', 'jane@example.org', 'joe@example.org',
                    'ab@example.org'):
        assert_ok(vmm('ua', address, '-p', 'pw'))
    listed = assert_ok(vmm('lu', '-p', 'a%b@example.org')).out
    assert '\ta%b@example.org' in listed.replace('[+] ', '')
    assert 'ab@example.org' not in listed
    listed = assert_ok(vmm('lu', '-p', 'j*@example.org')).out
    assert 'jane@example.org' in listed and 'joe@example.org' in listed
    assert 'ab@' not in listed
    assert 'example.org' in assert_ok(vmm('ld', '-p', 'exa*')).out


@pytest.mark.parametrize('env,expected', [
    (None, 'Matching domains\n----------------\n\t(none)\n'),
    (DE, '\t(keine)\n'),
])
def test_empty_listing(vmm, env, expected):
    out = assert_ok(vmm('ld', env=env)).out
    assert expected in out and 'None' not in out


@pytest.mark.parametrize('env,expected', [
    (None, "Error: The domain 'example.org' still has 1 account, 0 aliases, "
           "1 relocated user, 1 catch-all destination; use --force to "
           "delete them too\n"),
    (DE, "Fehler: Die Domain 'example.org' hat noch 1 Konto, 0 Aliase, "
         "1 umgezogener Benutzer, 1 Catch-all-Ziel; mit --force werden sie "
         "mitgelöscht\n"),
])
def test_plural_counts(vmm, env, expected):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('ra', 'old@example.org', 'new@example.com'))
    assert_ok(vmm('caa', 'example.org', 'jane@example.org'))
    assert _err(vmm('dd', 'example.org', env=env), 20) == expected


@pytest.mark.parametrize('env,expected', [
    (None, "There is 1 alias or catch-all destination pointing at "
           "'jane@example.org'; use --force to remove it too"),
    (DE, "1 Alias- oder Catch-all-Ziel zeigt auf 'jane@example.org'; mit "
         "--force wird es mitentfernt"),
])
def test_plural_pointing_aliases(vmm, env, expected):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('aa', 'info@example.org', 'jane@example.org'))
    assert expected in _err(vmm('ud', 'jane@example.org', env=env), 30)


@pytest.mark.parametrize('env,read,both', [
    (None, 'has mode 0644: others can read it. Fix it with',
     'has mode 0666: others can read it; others can write it; its group '
     'can write it.'),
    (DE, 'hat den Modus 0644: andere können sie lesen. Beheben mit',
     'hat den Modus 0666: andere können sie lesen; andere können sie '
     'schreiben; ihre Gruppe kann sie schreiben.'),
])
def test_config_file_mode_says_what_others_can_do(vmm, config_file, env,
                                                  read, both):
    os.chmod(config_file, 0o644)
    assert read in _err(vmm('ld', env=env), 34)
    os.chmod(config_file, 0o666)
    assert both in _err(vmm('ld', env=env), 34)


@pytest.mark.parametrize('env,expected', [
    (None, "cannot be parsed: line 1: '[database' is not a section header "
           "such as [database], and no section has begun"),
    (DE, "Zeile 1: '[database' ist kein Abschnittskopf wie [database], und "
         "noch hat kein Abschnitt begonnen"),
])
def test_config_parse_error_names_the_line(vmm, tmp_path, env, expected):
    path = tmp_path / 'broken.cfg'
    path.write_text('[database\nname = x\n')
    os.chmod(path, 0o600)
    assert expected in _err(vmm('--config', str(path), 'ld', config=False,
                                env=env), 31)


@pytest.mark.parametrize('env,expected', [
    (None, "Error: Invalid value for 'account.password_length': '4': out of "
           "range (8…1024)\n"),
    (DE, "Fehler: Ungültiger Wert für 'account.password_length': '4': "),
])
def test_configset_blames_the_value_not_the_file(vmm, config_file, env,
                                                 expected):
    err = _err(vmm('cs', 'account.password_length', '4', env=env), 31)
    assert err.startswith(expected) and config_file not in err


@pytest.mark.parametrize('env,expected', [
    (None, "mode 0777 lets others write in the directories; set "
           "misc.allow_others_write = true first if that is really meant"),
    (DE, "Modus 0777 lässt andere in die Verzeichnisse schreiben; zuerst "
         "misc.allow_others_write = true setzen, wenn das wirklich gewollt "
         "ist"),
])
def test_mode_that_lets_others_write(vmm, env, expected):
    assert expected in _err(vmm('cs', 'domain.directory_mode', '0777',
                                env=env), 31)
    assert_ok(vmm('cs', 'misc.allow_others_write', 'true'))
    result = assert_ok(vmm('cs', 'domain.directory_mode', '0777', env=env))
    assert 'domain.directory_mode = 0777' in result.err
    assert vmm('cg', 'domain.directory_mode').out == \
        'domain.directory_mode = 0777\n'


@pytest.mark.parametrize('env,expected', [
    (None, "Error: format: not a vmm export (expected 'vmm-export')"),
    (DE, "format"),
])
def test_import_of_something_else(vmm, tmp_path, env, expected):
    path = tmp_path / 'other.json'
    path.write_text('{"bad": 1}')
    err = _err(vmm('im', str(path), env=env), 73)
    assert expected in err and 'missing' not in err


@pytest.mark.parametrize('env,expected', [
    (None, "Invalid domain name: 'bad\\xff.example'"),
    (DE, "'bad\\xff.example'"),
])
def test_undecodable_bytes_shown_readably(vmm, env, expected):
    assert expected in _err(vmm('da', 'bad\udcff.example', env=env), 39)


@pytest.mark.parametrize('env,expected', [
    (None, "Invalid domain name: 'ab--cd.com' (label 'ab--cd' has hyphens "
           "in the 3rd and 4th position)"),
    (DE, "das Label 'ab--cd' hat Bindestriche an 3. und 4. Stelle"),
])
def test_idna_hyphen_rule(vmm, env, expected):
    assert expected in _err(vmm('da', 'ab--cd.com', env=env), 39)


@pytest.mark.parametrize('env,expected', [
    (None, "(a whole number with an optional suffix b, k, M or G in either "
           "case, no spaces)"),
    (DE, "(eine ganze Zahl mit optionalem Suffix b, k, M oder G, groß oder "
         "klein, ohne Leerzeichen)"),
])
def test_sizes_one_rule(vmm, db, env, expected):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert expected in _err(vmm('uq', 'jane@example.org', ' 10', env=env),
                            44)
    for size, stored in (('10K', 10240), ('10k', 10240), ('10g', 10 << 30),
                         ('10G', 10 << 30), ('3m', 3 << 20), ('7B', 7)):
        assert_ok(vmm('uq', 'jane@example.org', size))
        assert db.scalar('SELECT q.bytes FROM users u JOIN quotalimit q '
                         'USING (qid)') == stored, size


@pytest.mark.parametrize('env,expected', [
    (None, 'line 1: ua …: the line is longer than 262144 characters'),
    (DE, 'ua …: die Zeile ist länger als 262144 Zeichen'),
])
def test_overlong_batch_line(vmm, env, expected):
    result = vmm('batch', input='ua a@example.org -p ' + 'x' * 300000 + '\n',
                 env=env)
    assert result.code == 2 and expected in result.err, result.err[:300]
