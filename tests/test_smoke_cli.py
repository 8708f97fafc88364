"""A first end-to-end pass through the CLI against the real database."""


def test_domain_account_alias_session(vmm, db, mail_base):
    assert vmm('da', 'example.org').code == 0
    assert vmm('ua', 'jane@example.org', '-p', 'secret').code == 0
    assert vmm('ada', 'example.net', 'example.org').code == 0
    assert vmm('aa', 'info@example.org', 'jane@example.org').code == 0
    rows = db.lookup('postfix_virtual_alias_map', 'info', 'example.net')
    assert rows == [('info@example.net', 'jane@example.org')]
    uid, home = db.query("SELECT uid, domaindir || '/' || uid FROM users "
                         "JOIN domain_data USING (gid)")[0]
    assert (mail_base / home[len(str(mail_base)) + 1:] / 'Maildir' /
            'cur').is_dir()
    result = vmm('da', 'example.org')
    assert result.code == 38
    assert result.err.count('\n') == 1
