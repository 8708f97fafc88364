"""A scripted admin session on a private, throwaway PostgreSQL.

``make demo`` runs this: it starts PostgreSQL in .demo/ of the checkout and
sets the database up as INSTALL's steps 3 and 5 say -- the superuser
creates the roles vmm, postfix and dovecot and the database owned by vmm;
vmm, logged in as its own role with its password, creates the schema with
``vmm dbupgrade``, and that role runs set-permissions.sql for the other
two.  Then it runs real ``vmm`` commands as a postmaster would type them
and shows what the lookups answer to the roles postfix and dovecot.  A
private Postfix and Dovecot (loopback ports, .demo/ config) read the same
database as those roles, with their passwords: a message goes in over
SMTP, comes out over IMAP, and ``vmm check`` verifies the wiring.  Running
it again starts from scratch.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, '.demo')
VMM = os.path.join(os.path.dirname(sys.executable), 'vmm')

SESSION = """
vmm dbupgrade
vmm domainadd example.org -n "our main domain"
vmm useradd jane@example.org -p 'Tr0ub4dor&3'
vmm useradd joe@example.org -p 'correct horse battery staple'
vmm aliasdomainadd example.net example.org
vmm aliasdomainadd bücher.example example.org
vmm aliasadd team@example.org jane@example.org joe@example.org
vmm aliasadd postmaster@example.org jane@example.org
vmm catchalladd example.org postmaster@example.org
vmm relocatedadd john@example.org john@elsewhere.example
vmm userquota joe@example.org 2G -m 50000
vmm userservices joe@example.org -d pop3
vmm domaininfo example.org -d full
vmm listaddresses
vmm listdomains
vmm useradd jane@example.org -p again
"""

def install_roles():
    """INSTALL step 3's SQL (run by the superuser, as ``su postgres -c
    psql`` does there) and the passwords it gives each role."""
    with open(os.path.join(ROOT, 'INSTALL'), encoding='utf-8') as handle:
        text = handle.read()
    sql = re.search(r"su postgres -c psql <<'SQL'\n(.*?)\n\s*SQL\n", text,
                    re.S).group(1)
    return sql, dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'",
                                sql))


LOOKUPS = [
    ('postfix_virtual_alias_map', 'team', 'example.net'),
    ('postfix_virtual_alias_map', 'nobody', 'bücher.example'),
    ('postfix_virtual_alias_map', 'jane', 'example.org'),
    ('postfix_virtual_mailbox_map', 'jane', 'example.net'),
    ('postfix_transport_map', 'joe', 'example.org'),
    ('postfix_relocated_map', 'john', 'example.org'),
    ('postfix_smtpd_sender_login_map', 'jane', 'example.net'),
    ('dovecotpassword', 'joe', 'example.org'),
    ('dovecotquotauser', 'joe', 'example.org'),
]


def run_vmm(line, env, **kwargs):
    """Show *line* and run it with the demo's vmm.cfg."""
    print('\n$ ' + line, flush=True)
    proc = subprocess.run([VMM] + shlex.split(line)[1:], env=env, **kwargs)
    if proc.returncode:
        print('[exit status %d]' % proc.returncode, flush=True)


def mail_round_trip(pg, env, passwords):
    """Private Postfix and Dovecot on the demo database, logged in as the
    roles postfix and dovecot: SMTP in, IMAP out, then `vmm check`."""
    with servers.MailServers(os.path.join(DEMO, 'servers'), pg, 'mailsys',
                             postfix_password=passwords['postfix'],
                             dovecot_password=passwords['dovecot']) as mail:
        print('\nPrivate Postfix (SMTP on 127.0.0.1:%d) and Dovecot (IMAP '
              'on 127.0.0.1:%d) started.' % (mail.postfix.port,
                                              mail.dovecot.imap_port))
        print('Sending a message to team@example.net (an alias under the '
              'alias domain) ...')
        mail.postfix.smtp_send('someone@elsewhere.example',
                               'team@example.net', subject='Hello team')
        home = pg.execute("SELECT domaindir || '/' || uid FROM users JOIN "
                          "domain_data USING (gid) WHERE local_part = "
                          "'jane'", dbname='mailsys', user='vmm')[0][0]
        servers.wait_for_delivery(os.path.join(home, 'Maildir'))
        imap = mail.dovecot.imap_login('jane@example.org', 'Tr0ub4dor&3')
        imap.select('INBOX')
        _status, data = imap.search(None, 'SUBJECT', '"Hello team"')
        print('IMAP login as jane@example.org: %d message(s) with subject '
              '"Hello team" in INBOX.' % len(data[0].split()))
        imap.logout()
        # doveadm asks this Dovecot, not the one in /etc/dovecot.
        run_vmm('vmm configset misc.dovecot_config %s'
                % mail.dovecot.config_file, env)
        run_vmm('vmm userinfo jane@example.org', env)
        run_vmm('vmm userinfo joe@example.org', env)
        run_vmm('vmm check --postfix-dir %s --user jane@example.org'
                % mail.postfix.config_dir, env, input='Tr0ub4dor&3\n',
                text=True)


def set_permissions(pg, password):
    """INSTALL step 5's psql: the schema's owner, over TCP with its
    password, grants the postfix and dovecot roles their lookups."""
    argv = ['psql', '-X', '-q', '-h', 'localhost', '-p', str(pg.port), '-U',
            'vmm', '-d', 'mailsys', '-v', 'postfix=postfix', '-v',
            'dovecot=dovecot', '-f',
            os.path.join(ROOT, 'pgsql', 'set-permissions.sql')]
    print('\n$ PGPASSWORD=%s %s' % (password, ' '.join(
        shlex.quote(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a)
        for a in argv)), flush=True)
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL,
                   env=dict(os.environ, PGPASSWORD=password))


def main():
    # Over TCP every role logs in with its password, as on a real server.
    pg = servers.PostgresServer(os.path.join(DEMO, 'pg'),
                                host_auth='scram-sha-256')
    pg.stop('immediate')
    shutil.rmtree(DEMO, ignore_errors=True)
    os.makedirs(os.path.join(DEMO, 'mail'))
    for path in (DEMO, os.path.join(DEMO, 'mail')):
        os.chmod(path, 0o711)
    pg.start()
    try:
        sql, passwords = install_roles()
        print('As the PostgreSQL superuser (INSTALL, step 3):\n' + sql)
        pg.psql('postgres', input=sql, text=True)
        config = os.path.join(DEMO, 'vmm.cfg')
        with open(config, 'w') as handle:
            handle.write('[database]\nhost = localhost\nport = %d\n'
                         'user = vmm\npass = %s\nname = mailsys\n'
                         '[misc]\nbase_directory = %s\n'
                         '[domain]\nauto_postmaster = false\n'
                         % (pg.port, passwords['vmm'],
                            os.path.join(DEMO, 'mail')))
        os.chmod(config, 0o600)
        env = dict(os.environ, VMM_CONFIG=config)
        lines = SESSION.strip().splitlines()
        run_vmm(lines[0], env)
        set_permissions(pg, passwords['vmm'])
        for line in lines[1:]:
            run_vmm(line, env)
        print('\nWhat Postfix and Dovecot are told (lookup functions, '
              'called as the roles postfix and dovecot):')
        from vmm.models.values import DomainName
        for function, local, domain in LOOKUPS:
            role = 'postfix' if function.startswith('postfix') else 'dovecot'
            conn = pg.connect('mailsys', user=role)
            try:
                with conn, conn.cursor() as cur:
                    cur.execute('SELECT * FROM %s(%%s, %%s)' % function,
                                (local, str(DomainName(domain))))
                    names = [column.name for column in cur.description]
                    rows = cur.fetchall()
            finally:
                conn.close()
            print('  %s(%r, %r):' % (function, local, domain))
            # Column names with each value: "smtp=True", not a bare True.
            for row in rows:
                print('      ' + ', '.join('%s=%s' % pair
                                           for pair in zip(names, row)))
            if not rows:
                print('      (no row: not found)')
        print('\nMail tree created under %s:' % os.path.join(DEMO, 'mail'))
        subprocess.run(['find', os.path.join(DEMO, 'mail'), '-maxdepth',
                        '4', '-type', 'd'])
        mail_round_trip(pg, env, passwords)
    finally:
        pg.stop()
    print('\nDemo finished; the private PostgreSQL is stopped (data in '
          '.demo/, removed by the next run).')


if __name__ == '__main__':
    main()
