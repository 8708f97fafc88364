"""The postfix and dovecot roles can do their lookups and nothing more."""

import psycopg2
import pytest

#: Postfix's lookups for the account jane@example.org, and how many rows
#: each answers: an account is a mailbox with a UID, a transport and a
#: sender login, and is no alias, no relocated user and no relay domain.
POSTFIX_CALLS = [
    ("SELECT * FROM postfix_virtual_alias_map('jane', 'example.org')", 0),
    ("SELECT * FROM postfix_virtual_mailbox_map('jane', 'example.org')", 1),
    ("SELECT * FROM postfix_virtual_uid_map('jane', 'example.org')", 1),
    ("SELECT * FROM postfix_transport_map('jane', 'example.org')", 1),
    ("SELECT * FROM postfix_relocated_map('jane', 'example.org')", 0),
    ("SELECT * FROM postfix_smtpd_sender_login_map('jane', 'example.org')",
     1),
    ("SELECT * FROM postfix_relay_domain_map('example.org')", 0),
    ("SELECT * FROM postfix_relay_recipient_map('jane', 'example.org')", 0),
    ("SELECT gid FROM postfix_gid WHERE domainname = 'example.org'", 1),
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
# What each role may read at all (some of it column by column).
READABLE = {'postfix': {'postfix_gid'},
            'dovecot': {'users', 'domain_data', 'domain_name', 'userquota'}}


@pytest.fixture
def account(vmm, db):
    assert vmm('da', 'example.org').code == 0
    assert vmm('ua', 'jane@example.org', '-p', 'secret').code == 0
    return db


@pytest.mark.parametrize('sql,rows', POSTFIX_CALLS)
def test_postfix_may_look_up(account, sql, rows):
    assert len(account.query(sql, user='postfix')) == rows


@pytest.mark.parametrize('sql', DOVECOT_CALLS)
def test_dovecot_may_look_up(account, sql):
    rows = account.query(sql, user='dovecot')
    assert rows and 'jane' in str(rows[0])


@pytest.mark.parametrize('role', ['postfix', 'dovecot'])
def test_roles_read_nothing_else(account, role):
    """Every relation of the schema, new ones included, is closed to the
    role unless its lookups need it."""
    rows = account.query(
        "SELECT c.relname, has_any_column_privilege(%s, c.oid, 'SELECT') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p', "
        "'f')", (role,))
    names = {name for name, _readable in rows}
    assert {'users', 'vmm_log', 'lookup_address', 'directory_removal',
            'vmm_lookup_function'} <= names
    assert {name for name, readable in rows if readable} == READABLE[role]
    for name in sorted(names - READABLE[role]):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            account.query('SELECT 1 FROM %s LIMIT 1' % name, user=role)


@pytest.mark.parametrize('role,functions', [
    ('postfix', {'postfix_virtual_alias_map', 'postfix_virtual_mailbox_map',
                 'postfix_virtual_uid_map', 'postfix_transport_map',
                 'postfix_relocated_map', 'postfix_smtpd_sender_login_map',
                 'postfix_relay_domain_map', 'postfix_relay_recipient_map'}),
    ('dovecot', {'dovecotpassword', 'dovecotuser', 'dovecotquotauser'})])
def test_roles_run_exactly_their_lookups(account, role, functions):
    rows = account.query(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
        "AND has_function_privilege(%s, p.oid, 'EXECUTE')", (role,))
    assert {row[0] for row in rows} == functions


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
