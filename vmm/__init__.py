"""vmm: manage a Postfix + Dovecot mail server's data in PostgreSQL."""

__version__ = '1.0.0.dev0'
