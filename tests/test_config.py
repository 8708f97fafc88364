"""vmm.cfg: every option's default and validation, the lookup order, the
permission check, configget/configset/configure."""

import os
import stat

import pytest

from vmm import config as vmm_config
from vmm.config import OPTIONS, Config

from conftest import write_config


def cfg_file(tmp_path, text, mode=0o600, name='vmm.cfg'):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    os.chmod(path, mode)
    return str(path)


def test_empty_file_gives_every_default(tmp_path):
    config = Config.load(cfg_file(tmp_path, ''))
    assert config['database.host'] == 'localhost'
    assert config['database.port'] == '5432'
    assert config['database.sslmode'] == 'prefer'
    assert config['database.name'] == 'mailsys'
    assert config['mailbox.format'] == 'maildir'
    assert config['mailbox.folders'] == ('Drafts', 'Sent', 'Templates',
                                         'Trash')
    assert config['mailbox.root'] == 'Maildir'
    assert config['mailbox.subscribe'] is True
    assert config['domain.auto_postmaster'] is True
    assert config['domain.directory_mode'] == 0o770
    assert config['domain.quota_bytes'] == 0
    assert config['domain.transport'] == 'lmtp:unix:private/dovecot-lmtp'
    assert config['domain.default_aliases'] == ()
    assert config['account.directory_mode'] == 0o700
    assert config['account.password_length'] == 8
    assert config['bin.doveadm'] == '/usr/bin/doveadm'
    assert config['misc.base_directory'] == '/srv/mail'
    assert config['misc.password_scheme'] == 'SHA512-CRYPT'
    assert config['misc.crypt_sha512_rounds'] == 5000
    assert config['misc.relay_transport'] == 'smtp:'


def test_shipped_file_loads_and_documents_every_option(tmp_path):
    shipped = os.path.join(os.path.dirname(__file__), '..', 'vmm.cfg')
    text = open(shipped, encoding='utf-8').read()
    assert Config.load(cfg_file(tmp_path, text))['database.name']
    for section, options in OPTIONS.items():
        for option in options:
            assert ('%s =' % option in text or '%s=' % option in text), \
                '%s.%s missing from vmm.cfg' % (section, option)


GOOD_VALUES = [
    ('database', 'host', 'db1.example.org,db2.example.org', 'db1.example.org,'
     'db2.example.org'),
    ('database', 'port', '5432, 5433', '5432,5433'),
    ('database', 'sslmode', 'verify-full', 'verify-full'),
    ('mailbox', 'format', 'mdbox', 'mdbox'),
    ('mailbox', 'folders', 'Lists.Dovecot:Entwürfe', ('Lists.Dovecot',
                                                      'Entwürfe')),
    ('mailbox', 'folders', '', ()),
    ('mailbox', 'subscribe', 'no', False),
    ('domain', 'directory_mode', '488', 0o750),
    ('domain', 'directory_mode', '0770', 0o770),
    ('account', 'directory_mode', '0700', 0o700),
    ('account', 'directory_mode', '02700', 0o2700),
    ('misc', 'allow_others_write', 'yes', True),
    ('domain', 'quota_bytes', '10M', 10 * 1024 ** 2),
    ('domain', 'quota_messages', '1000', 1000),
    ('domain', 'transport', 'smtp:[mx.example.org]:25',
     'smtp:[mx.example.org]:25'),
    ('domain', 'max_accounts', '50', 50),
    ('domain', 'default_aliases', 'abuse=postmaster@%d, noc=ops@example.org',
     (('abuse', 'postmaster@%d'), ('noc', 'ops@example.org'))),
    ('account', 'password_length', '20', 20),
    ('account', 'random_password', 'on', True),
    ('bin', 'du', '/bin/du', '/bin/du'),
    ('misc', 'base_directory', '/var/mail/vmm/', '/var/mail/vmm'),
    ('misc', 'crypt_blowfish_rounds', '12', 12),
    ('misc', 'password_scheme', 'ssha512.b64', 'SSHA512.B64'),
]


@pytest.mark.parametrize('section,option,text,value', GOOD_VALUES)
def test_good_values(tmp_path, section, option, text, value):
    config = Config.load(cfg_file(tmp_path, '[%s]\n%s = %s\n'
                                  % (section, option, text)))
    assert config['%s.%s' % (section, option)] == value


BAD_VALUES = [
    ('database', 'port', 'postgres'), ('database', 'port', '70000'),
    ('database', 'port', '5432,,5433'), ('database', 'host', 'a,,b'),
    ('database', 'sslmode', 'sometimes'), ('database', 'user', ''),
    ('database', 'name', ''),
    ('mailbox', 'format', 'mbox'), ('mailbox', 'folders', 'a..b'),
    ('mailbox', 'folders', 'Sent:Sent'), ('mailbox', 'folders', 'a/b'),
    ('mailbox', 'root', '../x'), ('mailbox', 'root', 'a/b'),
    ('mailbox', 'root', ''), ('mailbox', 'subscribe', 'maybe'),
    ('domain', 'auto_postmaster', '2'), ('domain', 'delete_directory', 'y es'),
    ('domain', 'directory_mode', '0o770'), ('domain', 'directory_mode', '-1'),
    ('domain', 'directory_mode', '99999'), ('domain', 'force_deletion', ''),
    ('domain', 'smtp', 'nope'), ('domain', 'pop3', 'x'),
    ('domain', 'imap', '11'), ('domain', 'sieve', '-'),
    ('domain', 'quota_bytes', '10X'), ('domain', 'quota_bytes', '-5'),
    ('domain', 'quota_messages', '-1'), ('domain', 'quota_messages', 'many'),
    ('domain', 'transport', 'lmtp unix'), ('domain', 'transport', ''),
    ('domain', 'max_accounts', '-3'), ('domain', 'max_aliases', 'x'),
    ('domain', 'max_alias_domains', '1.5'),
    ('domain', 'default_aliases', 'abuse'),
    ('domain', 'default_aliases', 'ab use=x@example.org'),
    ('domain', 'default_aliases', 'abuse=not an address'),
    ('account', 'delete_directory', 'sure'),
    ('account', 'directory_mode', 'rwx'), ('account', 'disk_usage', '?'),
    ('account', 'random_password', '0.5'),
    ('account', 'password_length', '7'), ('account', 'password_length', 'x'),
    ('bin', 'doveadm', 'doveadm'), ('bin', 'du', 'bin/du'),
    ('bin', 'postconf', ''),
    ('misc', 'base_directory', 'srv/mail'),
    ('misc', 'dovecot_config', 'dovecot.conf'),
    ('misc', 'crypt_blowfish_rounds', '3'),
    ('misc', 'crypt_sha256_rounds', '999'),
    ('misc', 'crypt_sha512_rounds', 'lots'),
    ('misc', 'password_scheme', 'ROT13'),
    ('misc', 'password_scheme', 'SHA512-CRYPT.ZIP'),
    ('misc', 'relay_transport', 'smtp :'),
    ('misc', 'relay_transport', 'relay'),
    ('misc', 'allow_others_write', 'perhaps'),
    ('dkim', 'nameserver', 'ns.example:53x'),
    ('dkim', 'nameserver', ':53'),
    ('dkim', 'retire_days', '-1'),
    ('dkim', 'retire_days', 'a week'),
    ('domain', 'directory_mode', '0779'), ('domain', 'directory_mode', '077'),
    ('domain', 'directory_mode', '0777'), ('domain', 'directory_mode', '511'),
    ('account', 'directory_mode', '700'),
    ('account', 'directory_mode', '0702'),
    ('account', 'directory_mode', '010000'),
]


@pytest.mark.parametrize('section,option,text', BAD_VALUES)
def test_bad_values_name_option_and_file(tmp_path, section, option, text):
    path = cfg_file(tmp_path, '[%s]\n%s = %s\n' % (section, option, text))
    with pytest.raises(vmm_config.ConfigError) as info:
        Config.load(path)
    assert info.value.code == 31
    assert '%s.%s' % (section, option) in info.value.msg
    assert path in info.value.msg


def test_every_option_has_a_bad_value_case():
    covered = {(s, o) for s, o, _t in BAD_VALUES}
    for section, options in OPTIONS.items():
        for option in options:
            if (section, option) in (('database', 'pass'),
                                     ('misc', 'dovecot_version')):
                continue  # free text
            assert (section, option) in covered, (section, option)


@pytest.mark.parametrize('text', ['[nosuch]\na = 1\n',
                                  '[misc]\nno_such_option = 1\n',
                                  'no section header\n',
                                  '[misc]\nbase_directory\n'])
def test_unknown_or_broken_content(tmp_path, text):
    with pytest.raises(vmm_config.ConfigError) as info:
        Config.load(cfg_file(tmp_path, text))
    assert info.value.code == 31


def test_legacy_option_of_vmm07_is_ignored(tmp_path):
    config = Config.load(cfg_file(tmp_path, '[database]\nmodule = psycopg2\n'))
    assert config['database.name'] == 'mailsys'


@pytest.mark.parametrize('mode', [0o644, 0o604, 0o620, 0o602, 0o666])
def test_permissions_refused(tmp_path, mode):
    path = cfg_file(tmp_path, '', mode)
    with pytest.raises(vmm_config.ConfigError) as info:
        Config.load(path)
    assert info.value.code == 34
    assert path in info.value.msg and 'chmod' in info.value.msg


@pytest.mark.parametrize('mode', [0o600, 0o640, 0o400])
def test_permissions_accepted(tmp_path, mode):
    assert Config.load(cfg_file(tmp_path, '', mode)).path


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(vmm_config.ConfigError) as info:
        Config.load(str(tmp_path / 'nothere.cfg'))
    assert info.value.code == 32
    with pytest.raises(vmm_config.ConfigError) as info:
        Config.load(str(tmp_path))
    assert info.value.code == 32


def test_unreadable_file_is_33():
    """As an unprivileged user, a root-only file cannot be read."""
    import shutil
    import tempfile
    directory = tempfile.mkdtemp()
    try:
        os.chmod(directory, 0o711)
        path = os.path.join(directory, 'vmm.cfg')
        with open(path, 'w') as handle:
            handle.write('')
        os.chmod(path, 0o600)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setuid(65534)
                Config.load(path)
            except vmm_config.ConfigError as err:
                code = err.code
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 33
    finally:
        shutil.rmtree(directory)


def test_lookup_order(tmp_path, monkeypatch):
    first = cfg_file(tmp_path, '', name='first.cfg')
    second = cfg_file(tmp_path, '', name='second.cfg')
    monkeypatch.setenv('VMM_CONFIG', second)
    assert vmm_config.find_config_file(first) == first
    assert vmm_config.find_config_file() == second
    monkeypatch.delenv('VMM_CONFIG')
    missing = str(tmp_path / 'missing.cfg')
    monkeypatch.setattr(vmm_config, 'SEARCH_PATH', (missing, first, second))
    assert vmm_config.find_config_file() == first
    monkeypatch.setattr(vmm_config, 'SEARCH_PATH', (missing,))
    with pytest.raises(vmm_config.ConfigError) as info:
        vmm_config.find_config_file()
    assert info.value.code == 32


@pytest.fixture
def cfg(tmp_path):
    text = ('# comment that must survive\n[misc]\n; base comment\n'
            'base_directory = /srv/mail\n\n[domain]\nquota_bytes = 0\n')
    return cfg_file(tmp_path, text, 0o640)


def test_configget(vmm, cfg):
    result = vmm('--config', cfg, 'configget', 'misc.base_directory',
                 config=False)
    assert (result.code, result.out) == (0, 'misc.base_directory = '
                                            '/srv/mail\n')
    result = vmm('--config', cfg, 'cg', 'account.password_length',
                 config=False)
    assert result.out == 'account.password_length = 8\n'
    assert vmm('--config', cfg, 'cg', 'nosuch.option', config=False).code \
        == 46
    assert vmm('--config', cfg, 'cg', 'misc.nosuch', config=False).code == 44
    assert vmm('--config', cfg, 'cg', 'nodot', config=False).code == 46


def test_configset_keeps_comments_backup_owner_and_mode(vmm, cfg):
    os.chown(cfg, 0, 4)
    before = open(cfg).read()
    result = vmm('--config', cfg, 'configset', 'domain.quota_bytes', '1G',
                 config=False)
    assert result.code == 0, result.err
    text = open(cfg).read()
    assert 'quota_bytes = 1G' in text
    assert '# comment that must survive' in text and '; base comment' in text
    assert open(cfg + '.bak').read() == before
    st = os.stat(cfg)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, 4)
    assert Config.load(cfg)['domain.quota_bytes'] == 1024 ** 3
    assert vmm('--config', cfg, 'cs', 'account.random_password', 'yes',
               config=False).code == 0
    assert Config.load(cfg)['account.random_password'] is True
    assert '[account]\nrandom_password = yes' in open(cfg).read()


def test_configset_replaces_continuation_lines(vmm, cfg):
    with open(cfg, 'a') as handle:
        handle.write('default_aliases = abuse=postmaster@%d,\n'
                     '    hostmaster=postmaster@%d\n'
                     '# after the aliases\nquota_messages = 0\n')
    assert len(Config.load(cfg)['domain.default_aliases']) == 2
    result = vmm('--config', cfg, 'cs', 'domain.default_aliases',
                 'abuse=jane@example.org', config=False)
    assert result.code == 0, result.err
    text = open(cfg).read()
    assert 'hostmaster' not in text
    assert '# after the aliases\nquota_messages = 0' in text
    assert Config.load(cfg)['domain.default_aliases'] == (
        ('abuse', 'jane@example.org'),)


def test_configset_refuses_bad_value_and_changes_nothing(vmm, cfg):
    before = open(cfg).read()
    result = vmm('--config', cfg, 'cs', 'domain.quota_bytes', 'lots',
                 config=False)
    assert result.code == 31
    assert 'domain.quota_bytes' in result.err
    assert open(cfg).read() == before
    assert not os.path.exists(cfg + '.bak')


def test_configure_from_stdin(vmm, cfg):
    options = list(OPTIONS['mailbox'])
    answers = {'format': 'sdbox', 'root': 'sdbox'}
    # one bad value first for 'folders', then keep it
    lines = []
    for option in options:
        if option == 'folders':
            lines += ['a..b', '']
        else:
            lines.append(answers.get(option, ''))
    result = vmm('--config', cfg, 'configure', '-s', 'mailbox',
                 input='\n'.join(lines) + '\n', config=False)
    assert result.code == 0, result.err
    assert 'mailbox.folders' in result.err
    config = Config.load(cfg)
    assert config['mailbox.format'] == 'sdbox'
    assert config['mailbox.root'] == 'sdbox'
    assert config['mailbox.folders'] == ('Drafts', 'Sent', 'Templates',
                                         'Trash')
    assert '[Drafts:Sent:Templates:Trash]' in result.out


def test_configure_eof_is_interrupt_and_writes_nothing(vmm, cfg):
    before = open(cfg).read()
    result = vmm('--config', cfg, 'cf', '-s', 'misc', input='/new/base\n',
                 config=False)
    assert result.code == 3
    assert open(cfg).read() == before


def test_configure_unknown_section(vmm, cfg):
    assert vmm('--config', cfg, 'cf', '-s', 'nosuch', config=False).code == 46


def test_bad_config_through_cli_is_one_line(vmm, tmp_path):
    path = cfg_file(tmp_path, '[misc]\nbase_directory = relative\n')
    result = vmm('--config', path, 'listdomains', config=False)
    assert result.code == 31
    assert result.err.count('\n') == 1 and 'Traceback' not in result.err


def test_config_written_by_tests_is_valid(tmp_path, pg):
    path = write_config(tmp_path / 'x.cfg', pg, 'db', tmp_path)
    assert Config.load(path)['database.name'] == 'db'


def test_mode_that_lets_others_write_needs_the_explicit_choice(tmp_path):
    path = cfg_file(tmp_path, '[domain]\ndirectory_mode = 0777\n')
    from vmm.errors import ConfigError
    with pytest.raises(ConfigError) as info:
        Config.load(path)
    assert 'lets others write' in info.value.msg
    assert 'misc.allow_others_write' in info.value.msg
    path = cfg_file(tmp_path, '[domain]\ndirectory_mode = 0777\n'
                    '[misc]\nallow_others_write = true\n')
    assert Config.load(path)['domain.directory_mode'] == 0o777
