"""The postfix and dovecot roles can do their lookups and nothing more."""

import psycopg2
import pytest

POSTFIX_CALLS = [
    "SELECT * FROM postfix_virtual_alias_map('a', 'example.org')",
    "SELECT * FROM postfix_virtual_mailbox_map('a', 'example.org')",
    "SELECT * FROM postfix_virtual_uid_map('a', 'example.org')",
    "SELECT * FROM postfix_transport_map('a', 'example.org')",
    "SELECT * FROM postfix_relocated_map('a', 'example.org')",
    "SELECT * FROM postfix_smtpd_sender_login_map('a', 'example.org')",
    "SELECT * FROM postfix_relay_domain_map('example.org')",
    "SELECT * FROM postfix_relay_recipient_map('a', 'example.org')",
    "SELECT gid FROM postfix_gid WHERE domainname = 'example.org'",
]
DOVECOT_CALLS = [
    "SELECT * FROM dovecotpassword('jane', 'example.org')",
    "SELECT * FROM dovecotuser('jane', 'example.org')",
    "SELECT * FROM dovecotquotauser('jane', 'example.org')",
    # vmm 0.7's iterate_query
    "SELECT local_part AS username, domain_name.domainname AS domain "
    "FROM users LEFT JOIN domain_data USING (gid) "
    "LEFT JOIN domain_name USING (gid)",
]
TABLES = ['users', 'alias', 'relocated', 'catchall', 'domain_data',
          'domain_name', 'transport', 'vmm_log', 'vacation', 'relay_domain',
          'relay_recipient', 'quotalimit', 'service_set', 'maillocation']


@pytest.fixture
def account(vmm, db):
    assert vmm('da', 'example.org').code == 0
    assert vmm('ua', 'jane@example.org', '-p', 'secret').code == 0
    return db


@pytest.mark.parametrize('sql', POSTFIX_CALLS)
def test_postfix_may_look_up(account, sql):
    account.query(sql, user='postfix')


@pytest.mark.parametrize('sql', DOVECOT_CALLS)
def test_dovecot_may_look_up(account, sql):
    rows = account.query(sql, user='dovecot')
    assert rows and 'jane' in str(rows[0])


# Dovecot may read domain names: its iterate_query needs them.
@pytest.mark.parametrize('role,table', [
    (role, table) for role in ('postfix', 'dovecot') for table in TABLES
    if (role, table) != ('dovecot', 'domain_name')])
def test_roles_cannot_read_tables(account, role, table):
    columns = 'local_part, passwd' if table == 'users' else '*'
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        account.query('SELECT %s FROM %s' % (columns, table), user=role)


def test_postfix_cannot_read_hashes(account):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        account.query("SELECT * FROM dovecotpassword('jane', "
                      "'example.org')", user='postfix')


def test_dovecot_only_its_functions(account):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        account.query("SELECT * FROM postfix_virtual_alias_map('a', 'b')",
                      user='dovecot')


@pytest.mark.parametrize('role', ['postfix', 'dovecot'])
def test_roles_cannot_write(account, role):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        account.query("UPDATE users SET passwd = 'x'", user=role)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        account.query("INSERT INTO vmm_log (os_user, command, changes) "
                      "VALUES ('x', 'x', 'x')", user=role)


def test_dovecot_dict_quota_writes_usage(account):
    uid = account.scalar('SELECT uid FROM users')
    account.query('INSERT INTO userquota (uid, bytes, messages) VALUES '
                  '(%s, 10, 1)', (uid,), user='dovecot')
    account.query('UPDATE userquota SET bytes = bytes + 5 WHERE uid = %s',
                  (uid,), user='dovecot')
    assert account.query('SELECT bytes, messages FROM userquota',
                         user='dovecot') == [(15, 1)]
