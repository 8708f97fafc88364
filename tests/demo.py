"""A scripted admin session on a private, throwaway PostgreSQL.

``make demo`` runs this: it starts PostgreSQL in .demo/ of the checkout,
creates the schema with ``vmm dbupgrade``, runs real ``vmm`` commands as a
postmaster would type them, and shows what the Postfix and Dovecot lookups
answer.  Then a private Postfix and Dovecot (loopback ports, .demo/
config) read the same database: a message goes in over SMTP, comes out
over IMAP, and ``vmm check`` verifies the wiring.  Running it again starts
from scratch.
"""

import os
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
vmm userinfo joe@example.org
vmm listaddresses
vmm listdomains
vmm useradd jane@example.org -p again
"""

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


def mail_round_trip(pg, env):
    """Private Postfix and Dovecot on the demo database: SMTP in, IMAP
    out, then `vmm check`."""
    for role in ('postfix', 'dovecot'):
        pg.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, role))
    pg.psql('mailsys', '-v', 'postfix=postfix', '-v', 'dovecot=dovecot',
            '-f', os.path.join(ROOT, 'pgsql', 'set-permissions.sql'),
            stdout=subprocess.DEVNULL)
    with servers.MailServers(os.path.join(DEMO, 'servers'), pg,
                             'mailsys') as mail:
        print('\nPrivate Postfix (SMTP on 127.0.0.1:%d) and Dovecot (IMAP '
              'on 127.0.0.1:%d) started.' % (mail.postfix.port,
                                              mail.dovecot.imap_port))
        print('Sending a message to team@example.net (an alias under the '
              'alias domain) ...')
        mail.postfix.smtp_send('someone@elsewhere.example',
                               'team@example.net', subject='Hello team')
        home = pg.execute("SELECT domaindir || '/' || uid FROM users JOIN "
                          "domain_data USING (gid) WHERE local_part = "
                          "'jane'", dbname='mailsys')[0][0]
        servers.wait_for_delivery(os.path.join(home, 'Maildir'))
        imap = mail.dovecot.imap_login('jane@example.org', 'Tr0ub4dor&3')
        imap.select('INBOX')
        _status, data = imap.search(None, 'SUBJECT', '"Hello team"')
        print('IMAP login as jane@example.org: %d message(s) with subject '
              '"Hello team" in INBOX.' % len(data[0].split()))
        imap.logout()
        line = ('vmm check --postfix-dir %s --dovecot-config %s --user '
                'jane@example.org' % (mail.postfix.config_dir,
                                      mail.dovecot.config_file))
        print('\n$ ' + line)
        subprocess.run([VMM] + shlex.split(line)[1:], env=env,
                       input='Tr0ub4dor&3\n', text=True)


def main():
    pg = servers.PostgresServer(os.path.join(DEMO, 'pg'))
    pg.stop('immediate')
    shutil.rmtree(DEMO, ignore_errors=True)
    os.makedirs(os.path.join(DEMO, 'mail'))
    for path in (DEMO, os.path.join(DEMO, 'mail')):
        os.chmod(path, 0o711)
    pg.start()
    try:
        pg.execute('CREATE DATABASE mailsys')
        config = os.path.join(DEMO, 'vmm.cfg')
        with open(config, 'w') as handle:
            handle.write('[database]\nhost = %s\nport = %d\nuser = %s\n'
                         'name = mailsys\nsslmode = disable\n'
                         '[misc]\nbase_directory = %s\n'
                         '[domain]\nauto_postmaster = false\n'
                         % (pg.socket_dir, pg.port, pg.superuser,
                            os.path.join(DEMO, 'mail')))
        os.chmod(config, 0o600)
        env = dict(os.environ, VMM_CONFIG=config)
        for line in SESSION.strip().splitlines():
            print('\n$ ' + line, flush=True)
            argv = shlex.split(line)
            proc = subprocess.run([VMM] + argv[1:], env=env)
            if proc.returncode:
                print('[exit status %d]' % proc.returncode, flush=True)
        print('\nWhat Postfix and Dovecot are told (lookup functions):')
        from vmm.models.values import DomainName
        conn = pg.connect('mailsys')
        for function, local, domain in LOOKUPS:
            with conn, conn.cursor() as cur:
                cur.execute('SELECT * FROM %s(%%s, %%s)' % function,
                            (local, str(DomainName(domain))))
                names = [column.name for column in cur.description]
                rows = cur.fetchall()
            print('  %s(%r, %r):' % (function, local, domain))
            # Column names with each value: "smtp=True", not a bare True.
            for row in rows:
                print('      ' + ', '.join('%s=%s' % pair
                                           for pair in zip(names, row)))
            if not rows:
                print('      (no row: not found)')
        conn.close()
        print('\nMail tree created under %s:' % os.path.join(DEMO, 'mail'))
        subprocess.run(['find', os.path.join(DEMO, 'mail'), '-maxdepth',
                        '4', '-type', 'd'])
        mail_round_trip(pg, env)
    finally:
        pg.stop()
    print('\nDemo finished; the private PostgreSQL is stopped (data in '
          '.demo/, removed by the next run).')


if __name__ == '__main__':
    main()
