"""vmm batch: one process, one connection, one transaction."""

import os

import pytest

from cli_helpers import runner


@pytest.fixture
def fast(tmp_path, pg, db, mail_base):
    """A vmm with a cheap password scheme, and example.org."""
    run = runner(tmp_path, pg, db, mail_base,
                 misc={'password_scheme': 'SSHA512'})
    assert run('da', 'example.org').code == 0
    return run


def batch(run, text, *options, tmp_path=None):
    return run('batch', '-', *options, input=text)


def accounts(db):
    return [r[0] for r in db.query('SELECT local_part FROM users ORDER BY 1')]


def homes(mail_base):
    """The account homes: base/<hex digit>/<gid>/<uid>."""
    import glob
    return sorted(glob.glob(os.path.join(str(mail_base), '*', '*', '*')))


def test_quoting_comments_and_blank_lines(fast, db):
    text = '''
# a comment line
ua 'jane@example.org' -p "pass word"   # trailing comment
aa team@example.org jane@example.org "joe@example.org"

un jane@example.org -n 'Jane "JJ" Doe'
'''
    result = batch(fast, text)
    assert result.code == 0, result.err
    assert db.query('SELECT name FROM users') == [('Jane "JJ" Doe',)]
    assert db.lookup('postfix_virtual_alias_map', 'team', 'example.org')
    stored = db.lookup('dovecotpassword', 'jane', 'example.org')[0][1]
    assert stored.startswith('{SSHA512}')
    import subprocess
    assert subprocess.run(['doveadm', 'pw', '-t', stored, '-p',
                           'pass word'], capture_output=True).returncode == 0
    assert db.scalar("SELECT count(*) FROM vmm_log WHERE command LIKE "
                     "'vmm ua%'") == 1
    assert db.scalar("SELECT command FROM vmm_log WHERE command LIKE "
                     "'vmm ua%'") == "vmm ua jane@example.org -p ***"


def test_failure_at_line_5000_leaves_nothing(fast, db, mail_base, snapshot):
    before = snapshot()
    lines = []
    for n in range(1, 2500):
        lines.append('ua user%d@example.org -p secret' % n)
        lines.append('aa alias%d@example.org user%d@example.org' % (n, n))
    lines.append('ua bad..address@example.org -p x')
    assert len(lines) == 4999
    lines.insert(2000, '# comment in the middle')
    assert len(lines) == 5000
    result = batch(fast, '\n'.join(lines) + '\n')
    assert result.code == 47, result.err[-300:]
    assert 'line 5000' in result.err and 'bad..address' in result.err
    assert snapshot() == before
    assert accounts(db) == [] and homes(mail_base) == []


def test_continue_on_error_applies_the_good_lines(fast, db, mail_base):
    text = '\n'.join([
        'ua a@example.org -p x',
        'ua a@example.org -p x',            # 2: exists (21)
        'ua b@example.org -p x',
        'us b@example.org -d nosuch',       # 4: unknown service (65)
        'ua c@nosuch.example -p x',         # 5: no such domain (57)
        'ua d@example.org -p x',
    ])
    result = batch(fast, text, '--continue-on-error')
    assert result.code == 21
    for number in (2, 4, 5):
        assert 'line %d:' % number in result.err
    assert 'line 1:' not in result.err and 'line 3:' not in result.err
    assert accounts(db) == ['a', 'b', 'd']
    assert len(homes(mail_base)) == 3


def test_rolled_back_line_leaves_no_directory(fast, db, mail_base):
    """A line that fails after creating a mailbox loses it with its
    savepoint."""
    text = 'ua a@example.org -p x\nua b@example.org -p x\n'
    fast('dl', 'example.org', '--accounts', '1')
    result = batch(fast, text, '--continue-on-error')
    assert result.code == 71
    assert accounts(db) == ['a'] and len(homes(mail_base)) == 1


def test_deletion_removes_directory_only_after_commit(fast, db, mail_base):
    assert fast('ua', 'a@example.org', '-p', 'x').code == 0
    home = db.scalar("SELECT domaindir || '/' || uid FROM users JOIN "
                     "domain_data USING (gid)")
    failing = 'ud a@example.org --delete-directory\nua x@nosuch.example -p x\n'
    assert batch(fast, failing).code == 57
    assert os.path.isdir(home) and accounts(db) == ['a']
    assert batch(fast, 'ud a@example.org --delete-directory\n').code == 0
    assert not os.path.exists(home) and accounts(db) == []


def test_prompts_are_impossible(fast, db):
    result = batch(fast, 'ua jane@example.org\n')
    assert result.code == 69 and 'batch' in result.err
    assert accounts(db) == []


def test_lines_that_cannot_run_in_a_batch(fast, db):
    for line, code in (('configure', 2), ('batch x', 2), ('nosuch a', 2),
                       ('ua "unterminated', 2), ('ua a@example.org -h', 2),
                       ('ua', 2)):
        result = batch(fast, line + '\n')
        assert result.code == code, (line, result)
        assert 'line 1:' in result.err
    assert accounts(db) == []


def test_batch_file_and_info_output(fast, db, tmp_path):
    path = tmp_path / 'lines.txt'
    path.write_text('ua a@example.org -p x\nui a@example.org\n')
    result = fast('batch', str(path))
    assert result.code == 0, result.err
    assert 'a@example.org' in result.out
    assert fast('batch', str(tmp_path / 'missing')).code == 44


def test_overlong_line_is_refused_with_its_number(fast, db, snapshot):
    """shlex is quadratic in the length of one word: a 2,000,000-character
    line is refused at once (a real aliasadd line of 1,000 destinations
    stays well below the bound, and runs)."""
    before = snapshot()
    text = 'da new.example\nua jane@example.org -p ' + 'S' * 2000000 + '\n'
    result = batch(fast, text)
    assert result.code == 2, result
    assert 'line 2: ua …: the line is longer than 262144 characters' in \
        result.err
    assert 'SSS' not in result.err
    assert snapshot() == before
    many = ' '.join('r%d@example.com' % n for n in range(1000))
    result = batch(fast, 'aa big@example.org %s\n' % many)
    assert result.code == 0, result.err
    assert db.scalar('SELECT count(*) FROM alias') == 1000
